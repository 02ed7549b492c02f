/* Lineage explorer: draws the positions the server computed (lineage/layout.py) as SVG.
 * No framework, no inline code: configuration arrives through a json_script element. Every text from the
 * server goes through textContent, never innerHTML. */
(function () {
  "use strict";

  var SVGNS = "http://www.w3.org/2000/svg";
  var W = 180, H = 44;            // node box; the server's columns are 220 wide and rows 60 high
  var MIN_K = 0.1, MAX_K = 3;

  var root = document.getElementById("explorer");
  var cfgEl = document.getElementById("explorer-config");
  if (!root || !cfgEl) { return; }
  var cfg = JSON.parse(cfgEl.textContent);

  var svg = document.getElementById("graph");
  var viewport = document.getElementById("viewport");
  var notice = document.getElementById("graph-notice");
  var status = document.getElementById("graph-status");
  var panelTitle = document.getElementById("panel-title");
  var panelHint = document.getElementById("panel-hint");
  var panelBody = document.getElementById("panel-body");
  var depthInput = document.getElementById("depth");
  var depthOut = document.getElementById("depth-out");
  var directionInput = document.getElementById("direction");
  var asOfInput = document.getElementById("as-of");
  var asOfKindInput = document.getElementById("as-of-kind");
  var resetExpand = document.getElementById("reset-expand");
  var clearPathBtn = document.getElementById("clear-path");

  var state = {
    node: cfg.node, depth: cfg.depth, direction: cfg.direction, expand: cfg.expand || [],
    data: null, byId: {}, elements: {}, edgeEls: [], selected: null, pathFrom: null, path: null,
    view: { x: 20, y: 20, k: 1 }, request: 0
  };

  // -- helpers ---------------------------------------------------------------------------------------
  function el(name, attrs, parent) {
    var e = document.createElementNS(SVGNS, name);
    for (var key in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, key)) { e.setAttribute(key, attrs[key]); } }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  // The twin of portal.lib.text.neutralise: invisible format characters (right-to-left overrides, zero-width
  // spaces) are shown as their code point, never obeyed, as on the server-rendered pages and in the PDF.
  var INVISIBLE = /[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]|\udb40[\udc00-\udc7f]/g;
  function shown(value) {
    return String(value).replace(INVISIBLE, function (c) {
      return "[U+" + c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0") + "]";
    });
  }
  function h(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = shown(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function nodeUrl(id) { return cfg.nodeApi + encodeURIComponent(id); }
  function pageUrl(id) { return cfg.nodePage + encodeURIComponent(id); }
  function exploreUrl(id) { return cfg.explorePage + "?node=" + encodeURIComponent(id); }
  function shorten(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }
  // The server names and colours the nodes (lineage/labels.py), as the pages and the PDF do.
  function label(n) { return n.displayName || n.name; }
  function kindColours(kind) { return (state.data && state.data.kinds && state.data.kinds[kind]) || null; }
  function paintLegend(kinds) {
    var swatches = document.querySelectorAll(".legend .sw");
    for (var i = 0; i < swatches.length; i++) {
      var c = kinds[swatches[i].dataset.kind];
      if (c) { swatches[i].style.background = c.fill; swatches[i].style.borderColor = c.stroke; }
    }
  }
  function kindLabel(kind) { return cfg.kinds[kind] || kind; }
  function say(text) { status.textContent = text; }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { throw new Error(body.detail || ("HTTP " + r.status)); }
        return body;
      });
    });
  }

  // -- loading ---------------------------------------------------------------------------------------
  function graphQuery() {
    var p = new URLSearchParams();
    p.set("depth", String(state.depth));
    p.set("direction", state.direction);
    state.expand.forEach(function (id) { p.append("expand", id); });
    if (asOfInput && asOfInput.value) {  // lineage as of a time (empty: now)
      p.set("asOf", asOfInput.value);
      p.set("asOfKind", asOfKindInput.value);
    }
    return p;
  }

  function syncUrl() {
    var p = new URLSearchParams();
    p.set("node", state.node);
    p.set("depth", String(state.depth));
    p.set("direction", state.direction);
    state.expand.forEach(function (id) { p.append("expand", id); });
    if (asOfInput && asOfInput.value) { p.set("asOf", asOfInput.value); p.set("asOfKind", asOfKindInput.value); }
    history.replaceState(null, "", "?" + p.toString());
  }

  function load(keepView) {
    var ticket = ++state.request;
    say("Loading the graph…");
    return getJSON(nodeUrl(state.node) + "/graph?" + graphQuery().toString()).then(function (data) {
      if (ticket !== state.request) { return; }
      state.data = data;
      if (data.kinds) { paintLegend(data.kinds); }
      draw(data);
      if (!keepView) { fit(); }
      showNotice(data);
      syncUrl();
      resetExpand.disabled = state.expand.length === 0;
      say(data.nodes.length + " nodes and " + data.edges.length + " edges drawn.");
      if (state.path) { highlight(state.path); }
      if (state.selected && state.elements[state.selected]) { state.elements[state.selected].classList.add("selected"); }
    }).catch(function (err) {
      notice.hidden = false;
      notice.textContent = "The graph could not be loaded: " + err.message;
    });
  }

  function showNotice(data) {
    var parts = [];
    if (data.truncated.depth) {
      parts.push("The graph is cut at depth " + data.depth + ": more lineage lies beyond the outermost nodes. " +
                 "Raise the depth or expand a node to see it.");
    }
    if (data.truncated.size) { parts.push("Only the " + data.nodes.length + " nodes nearest to the start are shown."); }
    if (data.sensitiveIncomplete) { parts.push("Sensitive-tag badges may be incomplete: the upstream is very large."); }
    notice.hidden = parts.length === 0;
    notice.textContent = parts.join(" ");
  }

  // -- drawing ---------------------------------------------------------------------------------------
  function draw(data) {
    while (viewport.firstChild) { viewport.removeChild(viewport.firstChild); }
    state.byId = {}; state.elements = {}; state.edgeEls = [];
    data.nodes.forEach(function (n) { state.byId[n.id] = n; });
    var edges = el("g", { "class": "edges" }, viewport);
    var frag = document.createDocumentFragment();
    data.edges.forEach(function (e) {
      var s = state.byId[e.source], t = state.byId[e.target];
      if (!s || !t) { return; }
      var x1 = s.x + W, y1 = s.y + H / 2, x2 = t.x, y2 = t.y + H / 2;
      var dx = Math.max(30, (x2 - x1) / 2);
      if (x2 <= x1) { x1 = s.x + W / 2; x2 = t.x + W / 2; y1 = s.y + H; dx = 0; }
      var path = el("path", { "class": "gedge k-" + e.kind, d: "M" + x1 + "," + y1 + " C" + (x1 + dx) + "," + y1 + " " +
        (x2 - dx) + "," + y2 + " " + x2 + "," + y2, "marker-end": "url(#arrow)" });
      var title = el("title", {}, path);
      title.textContent = e.kind;
      path.dataset.source = e.source; path.dataset.target = e.target;
      state.edgeEls.push(path);
      frag.appendChild(path);
    });
    edges.appendChild(frag);
    var nodes = el("g", { "class": "nodes" }, viewport);
    frag = document.createDocumentFragment();
    data.nodes.forEach(function (n) { frag.appendChild(drawNode(n, data.root)); });
    nodes.appendChild(frag);
  }

  function drawNode(n, rootId) {
    var cls = "gnode k-" + n.kind + (n.id === rootId ? " root" : "");
    var text = label(n);
    var tags = n.sensitive || [];
    var aria = kindLabel(n.kind) + " " + text + (tags.length ? ", sensitive data: " + tags.join(", ") : "") +
               (n.id === rootId ? ", the start node" : "");
    var g = el("g", { "class": cls, transform: "translate(" + n.x + "," + n.y + ")", tabindex: "0",
                      role: "button", "aria-label": aria });
    g.dataset.id = n.id;
    var colours = kindColours(n.kind);
    el("rect", colours ? { width: W, height: H, rx: 6, ry: 6, fill: colours.fill, stroke: colours.stroke }
                       : { width: W, height: H, rx: 6, ry: 6 }, g);
    var k = el("text", { x: 8, y: 15, "class": "k" }, g);
    k.textContent = kindLabel(n.kind) + (n.state ? " · " + n.state : "");
    var t = el("text", { x: 8, y: 33 }, g);
    t.textContent = shorten(shown(text), 24);
    var title = el("title", {}, g);
    title.textContent = shown(n.id);
    var bx = W - 6;
    for (var i = tags.length - 1; i >= 0; i--) {
      var wdt = 7 * tags[i].length + 8;
      bx -= wdt;
      var b = el("g", { "class": "badge badge-" + tags[i], transform: "translate(" + bx + ",-8)" }, g);
      el("rect", { width: wdt, height: 14, rx: 3, ry: 3 }, b);
      var bt = el("text", { x: 4, y: 11 }, b);
      bt.textContent = shown(tags[i]);
      bx -= 3;
    }
    state.elements[n.id] = g;
    return g;
  }

  // -- pan and zoom ----------------------------------------------------------------------------------
  var frame = 0;
  function applyView() {
    if (frame) { return; }
    frame = requestAnimationFrame(function () {
      frame = 0;
      viewport.setAttribute("transform", "translate(" + state.view.x + "," + state.view.y + ") scale(" + state.view.k + ")");
    });
  }
  function zoomAt(factor, cx, cy) {
    var v = state.view;
    var k = Math.min(MAX_K, Math.max(MIN_K, v.k * factor));
    v.x = cx - (cx - v.x) * (k / v.k);
    v.y = cy - (cy - v.y) * (k / v.k);
    v.k = k;
    applyView();
  }
  function fit() {
    var box = svg.getBoundingClientRect();
    var d = state.data;
    if (!d || !box.width) { return; }
    var gw = d.width + W + 40, gh = d.height + H + 40;
    var k = Math.min(1.2, Math.max(MIN_K, Math.min(box.width / gw, box.height / gh)));
    if (k < 0.45) {
      // Too small to read: stay readable and centre on the start node instead; the user pans from there.
      var r = state.byId[d.root];
      k = 0.45;
      state.view = { k: k, x: box.width / 2 - (r.x + W / 2) * k, y: box.height / 2 - (r.y + H / 2) * k };
    } else {
      state.view = { k: k, x: (box.width - (d.width + W) * k) / 2, y: (box.height - (d.height + H) * k) / 2 };
    }
    applyView();
  }
  function centreOn(id) {
    var n = state.byId[id];
    if (!n) { return; }
    var box = svg.getBoundingClientRect();
    var v = state.view;
    var sx = v.x + (n.x + W / 2) * v.k, sy = v.y + (n.y + H / 2) * v.k;
    if (sx < 0 || sy < 0 || sx > box.width || sy > box.height) {
      v.x = box.width / 2 - (n.x + W / 2) * v.k;
      v.y = box.height / 2 - (n.y + H / 2) * v.k;
      applyView();
    }
  }

  var drag = null;
  svg.addEventListener("pointerdown", function (ev) {
    if (ev.button !== 0) { return; }
    drag = { x: ev.clientX, y: ev.clientY, vx: state.view.x, vy: state.view.y, moved: false, id: ev.pointerId };
  });
  svg.addEventListener("pointermove", function (ev) {
    if (!drag) { return; }
    var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) { return; }
    if (!drag.moved) { drag.moved = true; svg.setPointerCapture(drag.id); svg.classList.add("dragging"); }
    state.view.x = drag.vx + dx; state.view.y = drag.vy + dy;
    applyView();
  });
  function endDrag(ev) {
    if (!drag) { return; }
    var wasDrag = drag.moved;
    if (wasDrag && svg.hasPointerCapture(drag.id)) { svg.releasePointerCapture(drag.id); }
    svg.classList.remove("dragging");
    drag = null;
    if (!wasDrag && ev.type === "pointerup") {
      var g = ev.target.closest ? ev.target.closest(".gnode") : null;
      if (g) { select(g.dataset.id); }
    }
  }
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);
  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var box = svg.getBoundingClientRect();
    zoomAt(ev.deltaY < 0 ? 1.15 : 1 / 1.15, ev.clientX - box.left, ev.clientY - box.top);
  }, { passive: false });
  function zoomCentre(f) { var b = svg.getBoundingClientRect(); zoomAt(f, b.width / 2, b.height / 2); }
  document.getElementById("zoom-in").addEventListener("click", function () { zoomCentre(1.25); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoomCentre(0.8); });
  document.getElementById("zoom-fit").addEventListener("click", fit);

  svg.addEventListener("keydown", function (ev) {
    var g = ev.target.closest ? ev.target.closest(".gnode") : null;
    if (g && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); select(g.dataset.id); return; }
    if (g && (ev.key === "e" || ev.key === "E")) { ev.preventDefault(); expand(g.dataset.id); return; }
    if (ev.key === "+" || ev.key === "=") { zoomCentre(1.25); }
    else if (ev.key === "-") { zoomCentre(0.8); }
  });
  svg.addEventListener("focusin", function (ev) {
    var g = ev.target.closest ? ev.target.closest(".gnode") : null;
    if (g) { centreOn(g.dataset.id); }
  });

  // -- controls --------------------------------------------------------------------------------------
  depthInput.addEventListener("input", function () { depthOut.textContent = depthInput.value; });
  depthInput.addEventListener("change", function () { state.depth = parseInt(depthInput.value, 10); load(false); });
  directionInput.addEventListener("change", function () { state.direction = directionInput.value; load(false); });
  if (asOfInput) {
    asOfInput.addEventListener("change", function () { load(false); });
    asOfKindInput.addEventListener("change", function () { load(false); });
  }
  document.getElementById("explorer-controls").addEventListener("submit", function (ev) { ev.preventDefault(); load(false); });
  resetExpand.addEventListener("click", function () { state.expand = []; load(false); });
  clearPathBtn.addEventListener("click", clearPath);

  function expand(id) {
    if (state.expand.indexOf(id) < 0 && id !== state.node) {
      if (state.expand.length >= cfg.maxExpand) { state.expand.shift(); }
      state.expand.push(id);
    }
    load(true).then(function () { centreOn(id); var g = state.elements[id]; if (g) { g.focus(); } });
  }

  // -- details panel ---------------------------------------------------------------------------------
  function select(id) {
    if (state.selected && state.elements[state.selected]) { state.elements[state.selected].classList.remove("selected"); }
    state.selected = id;
    if (state.elements[id]) { state.elements[id].classList.add("selected"); }
    var n = state.byId[id];
    panelTitle.textContent = shown(n ? label(n) : id);
    panelHint.hidden = true;
    while (panelBody.firstChild) { panelBody.removeChild(panelBody.firstChild); }
    panelBody.appendChild(h("p", "Loading…", "muted"));
    getJSON(nodeUrl(id)).then(function (d) { if (state.selected === id) { renderPanel(d, n); } })
      .catch(function (err) { panelBody.textContent = "Could not load the details: " + err.message; });
  }

  function fact(dl, term, value) {
    if (value === undefined || value === null || value === "") { return; }
    dl.appendChild(h("dt", term));
    var dd = h("dd");
    if (value instanceof Node) { dd.appendChild(value); } else { dd.textContent = shown(value); }
    dl.appendChild(dd);
  }
  function tagList(tags) {
    var span = h("span");
    if (!tags.length) { span.textContent = "—"; return span; }
    tags.forEach(function (t) {
      var s = h("span", t.tag + (t.field ? ":" + t.field : ""), "tag tag-" + t.tag);
      span.appendChild(s); span.appendChild(document.createTextNode(" "));
    });
    return span;
  }
  function link(href, text) { var a = h("a", text); a.href = href; return a; }
  function button(text, onClick, cls) {
    var b = h("button", text, cls || "secondary"); b.type = "button"; b.addEventListener("click", onClick); return b;
  }

  function renderPanel(d, n) {
    while (panelBody.firstChild) { panelBody.removeChild(panelBody.firstChild); }
    panelBody.appendChild(h("p", kindLabel(d.kind), "kind"));
    var dl = h("dl", null, "facts");
    fact(dl, "Id", h("code", d.id));
    fact(dl, "Namespace", d.namespace);
    fact(dl, "Version", d.version);
    fact(dl, "Environment", d.environment);
    fact(dl, "State", d.state);
    fact(dl, "Owners", (d.owners || []).join(", ") || "—");
    fact(dl, "Tags", tagList(d.tags || []));
    var sens = d.sensitiveUpstream || {};
    var sensNode = h("span");
    Object.keys(sens).forEach(function (tag) {
      var s = h("span", tag, "tag tag-" + tag);
      s.title = "from " + sens[tag].join(", ");
      sensNode.appendChild(s); sensNode.appendChild(document.createTextNode(" "));
    });
    if (!Object.keys(sens).length) { sensNode.textContent = "none"; }
    fact(dl, "Sensitive data upstream", sensNode);
    if (d.parent) { fact(dl, d.kind === "run" ? "Job" : "Dataset", link(exploreUrl(d.parent), d.parent)); }
    fact(dl, "Updated", d.updatedAt);
    panelBody.appendChild(dl);

    var buttons = h("div", null, "buttons");
    buttons.appendChild(link(pageUrl(d.id), "Open page"));
    if (d.id !== state.node) { buttons.appendChild(link(exploreUrl(d.id), "Start here")); }
    if (state.byId[d.id]) { buttons.appendChild(button("Expand in place", function () { expand(d.id); })); }
    buttons.appendChild(button(state.pathFrom ? "Path from " + shorten(state.pathFrom, 20) + " to here" : "Path from here",
      function () { pathClick(d.id); }));
    panelBody.appendChild(buttons);

    var sensHolders = Object.keys(sens);
    if (sensHolders.length) {
      panelBody.appendChild(h("h3", "Where the sensitive data comes from"));
      var ul = h("ul", null, "plain");
      sensHolders.forEach(function (tag) {
        sens[tag].forEach(function (holder) {
          var li = h("li");
          li.appendChild(h("span", tag, "tag tag-" + tag)); li.appendChild(document.createTextNode(" "));
          li.appendChild(link(exploreUrl(holder), holder));
          ul.appendChild(li);
        });
      });
      panelBody.appendChild(ul);
    }
    var members = d.members || [];
    if (members.length) {
      panelBody.appendChild(h("h3", d.kind === "job" ? "Runs" : "Versions"));
      var mul = h("ul", null, "plain");
      members.slice(0, 15).forEach(function (m) {
        var li = h("li");
        li.appendChild(link(exploreUrl(m.id), m.kind === "run" ? m.name.slice(0, 8) + " " + (m.state || "") : m.version || m.name));
        mul.appendChild(li);
      });
      if (members.length > 15) { mul.appendChild(h("li", "and " + (members.length - 15) + " more on the node page", "muted")); }
      panelBody.appendChild(mul);
    }
    var facetNames = Object.keys(d.facets || {});
    if (facetNames.length) {
      panelBody.appendChild(h("h3", "Facets"));
      facetNames.forEach(function (name) {
        var det = h("details"); det.appendChild(h("summary", name));
        det.appendChild(h("pre", JSON.stringify(d.facets[name], null, 2)));
        panelBody.appendChild(det);
      });
    }
  }

  // -- path between two nodes ------------------------------------------------------------------------
  function pathClick(id) {
    if (!state.pathFrom || state.pathFrom === id) {
      state.pathFrom = id;
      say("Path start set. Select another node and choose “Path … to here”.");
      clearPathBtn.disabled = false;
      if (state.selected) { select(state.selected); }
      return;
    }
    var from = state.pathFrom, to = id;
    state.pathFrom = null;
    if (state.selected) { select(state.selected); }
    var q = function (a, b) { return cfg.pathApi + "?from=" + encodeURIComponent(a) + "&to=" + encodeURIComponent(b); };
    getJSON(q(from, to)).then(function (r) { return r.found ? r : getJSON(q(to, from)); }).then(function (r) {
      if (!r.found) {
        state.path = null; highlight(null);
        notice.hidden = false; notice.textContent = "No path connects these two nodes along the arrows.";
        return;
      }
      state.path = r;
      highlight(r);
      var missing = r.nodes.filter(function (n) { return !state.byId[n.id]; }).length;
      say("Path of " + (r.nodes.length - 1) + " steps highlighted.");
      if (missing) {
        notice.hidden = false;
        notice.textContent = "The path passes through " + missing + " node(s) not drawn: raise the depth to see all of it.";
      }
    }).catch(function (err) { notice.hidden = false; notice.textContent = "No path: " + err.message; });
  }

  function highlight(path) {
    var onNodes = {}, onEdges = {};
    if (path) {
      path.nodes.forEach(function (n) { onNodes[n.id] = true; });
      path.edges.forEach(function (e) { onEdges[e.source + "\u0000" + e.target] = true; });
    }
    Object.keys(state.elements).forEach(function (id) { state.elements[id].classList.toggle("on-path", !!onNodes[id]); });
    state.edgeEls.forEach(function (p) {
      p.classList.toggle("on-path", !!onEdges[p.dataset.source + "\u0000" + p.dataset.target]);
    });
    svg.classList.toggle("dim", !!path);
    clearPathBtn.disabled = !path && !state.pathFrom;
  }

  function clearPath() { state.path = null; state.pathFrom = null; highlight(null); say("Path cleared."); }

  window.addEventListener("resize", function () { if (state.data) { fit(); } });
  load(false);
}());
