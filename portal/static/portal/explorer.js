/* Lineage explorer: draws the layered layout the server computed (lineage/layout.py) as SVG.
 *
 * Legible before any interaction: labels are drawn at the body font size and the default zoom never goes
 * below 1, so the graph is turned (left to right, or top to bottom) to whichever fits the canvas better, the
 * canvas is sized to the graph, and what still does not fit is reached by panning (a minimap shows where you
 * are; the "fit" button shows everything, smaller). Zooming keeps the start node in view. Keyboard users reach
 * the start node with a skip link, move between neighbours with the arrow keys, and Tab on to the panel.
 *
 * Extension points for other modules (no framework, no inline code; configuration arrives in a json_script):
 * - a control inside #explorer-controls with a `data-graph-param` attribute adds its name=value to the graph
 *   fetch and reloads the graph when it changes;
 * - after the details panel is filled, #explorer receives an `explorer:details` event whose detail holds the
 *   node's details (`node`) and the panel element (`panel`) to add a section to.
 * Every text from the server goes through textContent, never innerHTML. */
(function () {
  "use strict";

  var SVGNS = "http://www.w3.org/2000/svg";
  var W = 228, H = 48;              // node box, in graph units: at zoom 1 one unit is one CSS pixel
  var STEPS = {                     // grid steps per orientation: room for the arrows between the boxes
    lr: { layer: 288, row: 66 },
    tb: { layer: 88, row: 244 }
  };
  var PAD = 16;                     // canvas margin around the graph at the default view
  var MIN_K = 0.02, MAX_K = 3, DEFAULT_MAX_K = 1.25;

  var root = document.getElementById("explorer");
  var cfgEl = document.getElementById("explorer-config");
  if (!root || !cfgEl) { return; }
  var cfg = JSON.parse(cfgEl.textContent);

  var svg = document.getElementById("graph");
  var canvas = svg.parentNode;
  var viewport = document.getElementById("viewport");
  var minimap = document.getElementById("minimap");
  var tip = document.getElementById("graph-tip");
  var notice = document.getElementById("graph-notice");
  var status = document.getElementById("graph-status");
  var panelTitle = document.getElementById("panel-title");
  var panelHint = document.getElementById("panel-hint");
  var panelBody = document.getElementById("panel-body");
  var controls = document.getElementById("explorer-controls");
  var depthInput = document.getElementById("depth");
  var depthOut = document.getElementById("depth-out");
  var directionInput = document.getElementById("direction");
  var turnButton = document.getElementById("turn");
  var asOfInput = document.getElementById("as-of");
  var asOfKindInput = document.getElementById("as-of-kind");
  var resetExpand = document.getElementById("reset-expand");
  var clearPathBtn = document.getElementById("clear-path");

  var state = {
    node: cfg.node, depth: cfg.depth, direction: cfg.direction, expand: cfg.expand || [],
    data: null, byId: {}, pos: {}, elements: {}, edgeEls: [], selected: null, focused: null,
    pathFrom: null, path: null, orient: "lr", turned: null, bounds: { w: 0, h: 0 },
    view: { x: 0, y: 0, k: 1 }, request: 0, up: {}, down: {}, layers: {}
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
  // As of a time a node's details and its page are asked as of then too: a node dropped since has them only so
  // (a live node's page shows it as it is now).
  function asOfQuery() {
    if (!asOfInput || !asOfInput.value) { return ""; }
    return "?" + new URLSearchParams({ asOf: asOfInput.value, asOfKind: asOfKindInput.value }).toString();
  }
  function pageUrl(id) { return cfg.nodePage + encodeURIComponent(id) + asOfQuery(); }
  // Explored on from here, the graph stays as of the same moment (a node dropped since is found only so).
  function exploreUrl(id) {
    var q = asOfQuery();
    return cfg.explorePage + "?node=" + encodeURIComponent(id) + (q ? "&" + q.slice(1) : "");
  }
  function shorten(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }
  // Long names lose their middle, not their end: "readmission_monthly.train_model" keeps both the pipeline
  // and the step ("readmiss…train_model"), and a version suffix stays readable.
  function middle(text, n) {
    if (text.length <= n) { return text; }
    var tail = Math.floor((n - 1) / 2), head = n - 1 - tail;
    return text.slice(0, head) + "…" + text.slice(text.length - tail);
  }
  // Names made of parts ("pipeline.step · run", "bucket/path/table") first drop whole leading parts:
  // "…train_model · 2c60738b" says more than "readmissio… 2c60738b".
  function dropHead(text, n) {
    for (var i = 0; i < text.length; i++) {
      if ("./:".indexOf(text[i]) >= 0 && text.length - i <= n) { return "…" + text.slice(i + 1); }
    }
    return null;
  }
  // Fit a text element's content in `width` graph units; returns whether it was cut.
  function fitText(textEl, full, width) {
    textEl.textContent = full;
    var length = textEl.getComputedTextLength();
    if (!length || length <= width) { return false; }
    var n = Math.max(4, Math.floor(full.length * width / length));
    var short = dropHead(full, n);
    if (short) {
      textEl.textContent = short;
      if (textEl.getComputedTextLength() <= width) { return true; }
    }
    textEl.textContent = middle(full, n);
    while (n > 4 && textEl.getComputedTextLength() > width) { n -= 1; textEl.textContent = middle(full, n); }
    return true;
  }
  // The server names and colours the nodes and the edges (lineage/labels.py), as the pages and the PDF do.
  function label(n) { return n.displayName || n.name; }
  function kindColours(kind) { return (state.data && state.data.kinds && state.data.kinds[kind]) || null; }
  function edgeWords(kind) {
    var k = state.data && state.data.edgeKinds && state.data.edgeKinds[kind];
    return k ? k.name : String(kind).replace(/_/g, " ");
  }
  function edgeSentence(kind) {
    var k = state.data && state.data.edgeKinds && state.data.edgeKinds[kind];
    return k ? k.description : "";
  }
  function paintLegend(kinds) {
    var swatches = document.querySelectorAll(".legend .sw");
    for (var i = 0; i < swatches.length; i++) {
      var c = kinds[swatches[i].dataset.kind];
      if (c) { swatches[i].style.background = c.fill; swatches[i].style.borderColor = c.stroke; }
    }
  }
  // "2026-12-06 14:36 UTC", as the pages print times (the API gives ISO 8601 in UTC).
  function when(iso) {
    var t = iso ? new Date(iso) : null;
    return t && !isNaN(t) ? t.toISOString().slice(0, 16).replace("T", " ") + " UTC" : iso;
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
  function extraParams() {
    var out = [];
    var inputs = controls.querySelectorAll("[data-graph-param]");
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].name && inputs[i].value) { out.push([inputs[i].name, inputs[i].value]); }
    }
    return out;
  }
  function graphQuery(withNode) {
    var p = new URLSearchParams();
    if (withNode) { p.set("node", state.node); }
    p.set("depth", String(state.depth));
    p.set("direction", state.direction);
    state.expand.forEach(function (id) { p.append("expand", id); });
    extraParams().forEach(function (kv) { p.set(kv[0], kv[1]); });
    if (asOfInput && asOfInput.value) {  // lineage as of a time (empty: now)
      p.set("asOf", asOfInput.value);
      p.set("asOfKind", asOfKindInput.value);
    }
    return p;
  }
  function syncUrl() { history.replaceState(null, "", "?" + graphQuery(true).toString()); }

  function load(keepView) {
    var ticket = ++state.request;
    say("Loading the graph…");
    return getJSON(nodeUrl(state.node) + "/graph?" + graphQuery(false).toString()).then(function (data) {
      if (ticket !== state.request) { return; }
      state.data = data;
      if (data.kinds) { paintLegend(data.kinds); }
      index(data);
      place(keepView ? state.orient : chooseOrientation());
      draw(data);
      if (keepView) { applyView(); } else { defaultView(); }
      showNotice(data);
      syncUrl();
      resetExpand.disabled = state.expand.length === 0;
      say(data.nodes.length + " nodes and " + data.edges.length + " edges drawn, " +
          (state.orient === "lr" ? "left to right" : "top to bottom") + ".");
      if (state.path) { highlight(state.path); }
      if (state.selected && state.elements[state.selected]) { state.elements[state.selected].classList.add("selected"); }
      root.dispatchEvent(new CustomEvent("explorer:graph", { detail: { data: data } }));
    }).catch(function (err) {
      if (ticket !== state.request) { return; }  // a newer request is on its way
      notice.hidden = false;
      if (asOfInput && asOfInput.value) {  // as of a time: nothing of now stays drawn
        draw({ nodes: [], edges: [] });
        say("Nothing drawn.");
        notice.textContent = "Nothing to draw as of " + asOfInput.value + " UTC: the node did not exist then (" +
          err.message + ")";
        return;
      }
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

  // -- placing: the server's layers and rows, drawn left to right or top to bottom --------------------
  function index(data) {
    state.byId = {}; state.up = {}; state.down = {}; state.layers = {};
    data.nodes.forEach(function (n) {
      state.byId[n.id] = n; state.up[n.id] = []; state.down[n.id] = [];
      (state.layers[n.layer] = state.layers[n.layer] || []).push(n.id);
    });
    data.edges.forEach(function (e) {
      if (state.byId[e.source] && state.byId[e.target]) {
        state.down[e.source].push(e.target); state.up[e.target].push(e.source);
      }
    });
    var grid = data.grid || { column: 220, row: 60 };
    Object.keys(state.layers).forEach(function (layer) {
      state.layers[layer].sort(function (a, b) { return state.byId[a].y - state.byId[b].y; });
    });
    data.nodes.forEach(function (n) { n.row = n.y / grid.row; n.col = n.x / grid.column; });
  }
  function extent(orient) {
    var s = STEPS[orient], layers = 0, rows = 0;
    state.data.nodes.forEach(function (n) { layers = Math.max(layers, n.col); rows = Math.max(rows, n.row); });
    return orient === "lr" ? { w: layers * s.layer + W, h: rows * s.row + H }
                           : { w: rows * s.row + W, h: layers * s.layer + H };
  }
  // The canvas ends above the window's bottom edge when the page is at its top: all of it is seen at once.
  function maxCanvasHeight() {
    var top = canvas.getBoundingClientRect().top + window.scrollY;
    return Math.max(360, Math.round(window.innerHeight - top - 16));
  }
  // The zoom buttons stand over the canvas's top-right corner: the default view and "fit" keep the graph left of
  // their column (from its left edge to the canvas's right, and a gap), so that no node is drawn under them.
  var zoomBar = canvas.querySelector(".zoom");
  function padRight() {
    var z = zoomBar ? zoomBar.getBoundingClientRect() : null;
    if (!z || !z.width) { return PAD; }
    return Math.max(PAD, Math.ceil(svg.getBoundingClientRect().right - z.left) + PAD / 2);
  }
  function fitScale(size, width, height) {
    return Math.min((width - PAD - padRight()) / size.w, (height - 2 * PAD) / size.h);
  }
  // Whichever way round shows the graph bigger; left to right (the reading direction) when both fit.
  function chooseOrientation() {
    if (state.turned) { return state.turned; }  // the reader turned it: keep their choice
    var width = svg.getBoundingClientRect().width || 800, height = maxCanvasHeight();
    var lr = Math.min(DEFAULT_MAX_K, fitScale(extent("lr"), width, height));
    var tb = Math.min(DEFAULT_MAX_K, fitScale(extent("tb"), width, height));
    return (lr >= 1 || lr >= tb) ? "lr" : "tb";
  }
  function place(orient) {
    var s = STEPS[orient];
    state.orient = orient;
    state.pos = {};
    state.data.nodes.forEach(function (n) {
      state.pos[n.id] = orient === "lr" ? { x: n.col * s.layer, y: n.row * s.row }
                                        : { x: n.row * s.row, y: n.col * s.layer };
    });
    state.bounds = extent(orient);
    svg.classList.toggle("tb", orient === "tb");
  }

  // -- drawing ---------------------------------------------------------------------------------------
  function edgePath(a, b) {
    var x1, y1, x2, y2, d;
    if (state.orient === "lr") {
      x1 = a.x + W; y1 = a.y + H / 2; x2 = b.x; y2 = b.y + H / 2;
      if (x2 > x1) {
        d = Math.max(30, (x2 - x1) / 2);
        return "M" + x1 + "," + y1 + " C" + (x1 + d) + "," + y1 + " " + (x2 - d) + "," + y2 + " " + x2 + "," + y2;
      }
    } else {
      x1 = a.x + W / 2; y1 = a.y + H; x2 = b.x + W / 2; y2 = b.y;
      if (y2 > y1) {
        d = Math.max(24, (y2 - y1) / 2);
        return "M" + x1 + "," + y1 + " C" + x1 + "," + (y1 + d) + " " + x2 + "," + (y2 - d) + " " + x2 + "," + y2;
      }
    }
    // An edge against the flow (a cycle): a loop around the outside of the boxes.
    x1 = a.x + W / 2; y1 = a.y; x2 = b.x + W / 2; y2 = b.y;
    return "M" + x1 + "," + y1 + " C" + x1 + "," + (y1 - 60) + " " + x2 + "," + (y2 - 60) + " " + x2 + "," + y2;
  }

  function draw(data) {
    while (viewport.firstChild) { viewport.removeChild(viewport.firstChild); }
    state.elements = {}; state.edgeEls = [];
    var edges = el("g", { "class": "edges" }, viewport);
    var frag = document.createDocumentFragment();
    data.edges.forEach(function (e) {
      var s = state.byId[e.source], t = state.byId[e.target];
      if (!s || !t) { return; }
      var g = el("g", { "class": "gedge k-" + e.kind });
      var path = el("path", { d: edgePath(state.pos[e.source], state.pos[e.target]), "marker-end": "url(#arrow)" }, g);
      var title = el("title", {}, g);
      title.textContent = shown(label(s)) + " → " + shown(label(t)) + ": " + edgeWords(e.kind) +
        (edgeSentence(e.kind) ? " (" + edgeSentence(e.kind) + ")" : "");
      // The words are drawn beside the edge when one of its ends is hovered or focused (markNear).
      g.dataset.source = e.source; g.dataset.target = e.target; g.dataset.kind = e.kind;
      state.edgeEls.push(g);
      frag.appendChild(g);
    });
    edges.appendChild(frag);
    var labels = el("g", { "class": "edge-labels", "aria-hidden": "true" }, viewport);
    var nodes = el("g", { "class": "nodes" }, viewport);
    frag = document.createDocumentFragment();
    data.nodes.forEach(function (n) { frag.appendChild(drawNode(n, data.root)); });
    nodes.appendChild(frag);
    state.edgeLabels = labels;
    // Text is measured once the boxes are in the document: names that do not fit lose their middle.
    data.nodes.forEach(function (n) {
      var g = state.elements[n.id];
      var cut = fitText(g.querySelector("text.name"), shown(label(n)), W - 16);
      g.classList.toggle("cut", cut);
    });
    drawMinimap(data);
    // One tab stop in the graph: the start node first (or the node that had focus before a redraw).
    focusable(state.focused && state.elements[state.focused] ? state.focused : data.root);
  }

  function drawNode(n, rootId) {
    var cls = "gnode k-" + n.kind + (n.id === rootId ? " root" : "");
    var text = label(n);
    var tags = n.sensitive || [];
    var aria = kindLabel(n.kind) + " " + text + (tags.length ? ", sensitive data: " + tags.join(", ") : "") +
               (n.id === rootId ? ", the start node" : "");
    var p = state.pos[n.id];
    var g = el("g", { "class": cls, transform: "translate(" + p.x + "," + p.y + ")", tabindex: "-1",
                      role: "button", "aria-label": aria });
    if (n.id === rootId) { g.id = "start-node"; }
    g.dataset.id = n.id;
    var colours = kindColours(n.kind);
    el("rect", colours ? { width: W, height: H, rx: 6, ry: 6, fill: colours.fill, stroke: colours.stroke }
                       : { width: W, height: H, rx: 6, ry: 6 }, g);
    var k = el("text", { x: 8, y: 15, "class": "k" }, g);
    k.textContent = kindLabel(n.kind) + (n.state ? " · " + n.state : "");
    el("text", { x: 8, y: 37, "class": "name" }, g);
    var title = el("title", {}, g);
    title.textContent = shown(text) + "\n" + kindLabel(n.kind) + "\n" + shown(n.id);
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

  // Edges of one node stand out and say what they are ("reads", "built from") while it is pointed at.
  function markNear(id) {
    while (state.edgeLabels && state.edgeLabels.firstChild) { state.edgeLabels.removeChild(state.edgeLabels.firstChild); }
    state.edgeEls.forEach(function (g) {
      var near = !!id && (g.dataset.source === id || g.dataset.target === id);
      g.classList.toggle("near", near);
      if (!near) { return; }
      var path = g.firstChild;
      var at = path.getPointAtLength(path.getTotalLength() / 2);
      var words = edgeWords(g.dataset.kind);
      var box = el("g", { "class": "edge-label", transform: "translate(" + at.x + "," + at.y + ")" }, state.edgeLabels);
      el("rect", { x: -(words.length * 3.6 + 6), y: -10, width: words.length * 7.2 + 12, height: 19, rx: 4 }, box);
      var t = el("text", { x: 0, y: 4, "text-anchor": "middle" }, box);
      t.textContent = words;
    });
  }

  // -- pan and zoom ----------------------------------------------------------------------------------
  var frame = 0;
  function applyView() {
    if (frame) { return; }
    frame = requestAnimationFrame(function () {
      frame = 0;
      viewport.setAttribute("transform", "translate(" + state.view.x + "," + state.view.y + ") scale(" + state.view.k + ")");
      updateMinimap();
    });
  }
  function canvasBox() { return svg.getBoundingClientRect(); }
  function centreOf(id) { var p = state.pos[id]; return p ? { x: p.x + W / 2, y: p.y + H / 2 } : null; }
  function onScreen(id, margin) {
    var c = centreOf(id), box = canvasBox(), v = state.view, m = margin || 0;
    if (!c) { return false; }
    var sx = v.x + c.x * v.k, sy = v.y + c.y * v.k;
    return sx >= m && sy >= m && sx <= box.width - m && sy <= box.height - m;
  }
  // Bring a node back inside the canvas with the smallest move (used after zooming about the pointer).
  function keepInView(id) {
    var p = state.pos[id], box = canvasBox(), v = state.view;
    if (!p) { return; }
    var left = v.x + p.x * v.k, top = v.y + p.y * v.k, right = left + W * v.k, bottom = top + H * v.k;
    var m = 12;
    if (right - left > box.width - 2 * m) { v.x += box.width / 2 - (left + right) / 2; }
    else if (left < m) { v.x += m - left; } else if (right > box.width - m) { v.x -= right - (box.width - m); }
    if (bottom - top > box.height - 2 * m) { v.y += box.height / 2 - (top + bottom) / 2; }
    else if (top < m) { v.y += m - top; } else if (bottom > box.height - m) { v.y -= bottom - (box.height - m); }
  }
  function zoomAt(factor, cx, cy) {
    var v = state.view;
    var k = Math.min(MAX_K, Math.max(MIN_K, v.k * factor));
    v.x = cx - (cx - v.x) * (k / v.k);
    v.y = cy - (cy - v.y) * (k / v.k);
    v.k = k;
    if (state.data) { keepInView(state.data.root); }
    applyView();
  }
  // The buttons and keys zoom about the start node while it is on screen, so it stays where it is.
  function zoomStep(factor) {
    var v = state.view, box = canvasBox();
    var anchor = state.data && onScreen(state.data.root) ? centreOf(state.data.root) : null;
    if (anchor) { zoomAt(factor, v.x + anchor.x * v.k, v.y + anchor.y * v.k); }
    else { zoomAt(factor, box.width / 2, box.height / 2); }
  }
  // The canvas takes the graph's height (no empty band below a short graph), up to most of the window.
  function sizeCanvas(k) {
    var want = Math.ceil(state.bounds.h * k + 2 * PAD);
    canvas.style.height = Math.max(320, Math.min(maxCanvasHeight(), want)) + "px";
  }
  // At the default view text is never smaller than the page's: zoom 1 at least; a bigger graph is panned.
  function defaultView() {
    var d = state.data;
    var width = canvasBox().width;
    if (!d || !width) { return; }
    var k = Math.min(DEFAULT_MAX_K, fitScale(state.bounds, width, maxCanvasHeight()));
    k = Math.max(1, k);
    sizeCanvas(k);
    var box = canvasBox(), b = state.bounds, right = padRight();
    var room = box.width - PAD - right;  // the width left of the zoom buttons
    var v = { k: k, x: PAD + (room - b.w * k) / 2, y: (box.height - b.h * k) / 2 };
    var c = centreOf(d.root);
    if (b.w * k > room) { v.x = Math.min(PAD, Math.max(box.width - right - b.w * k, PAD + room / 2 - c.x * k)); }
    if (b.h * k > box.height - 2 * PAD) { v.y = Math.min(PAD, Math.max(box.height - PAD - b.h * k, box.height / 2 - c.y * k)); }
    state.view = v;
    applyView();
  }
  // The whole graph in the canvas, however small its text gets: asked for, never the default.
  function fitAll() {
    var box = canvasBox(), b = state.bounds;
    if (!state.data || !box.width) { return; }
    var k = Math.min(DEFAULT_MAX_K, Math.max(MIN_K, fitScale(b, box.width, box.height)));
    state.view = { k: k, x: PAD + (box.width - PAD - padRight() - b.w * k) / 2, y: (box.height - b.h * k) / 2 };
    applyView();
    say("The whole graph is shown" + (k < 1 ? ", smaller than the page's text: zoom in or press Home to go back." : "."));
  }
  function centreOn(id) {
    if (!state.pos[id] || onScreen(id, 20)) { return; }
    var c = centreOf(id), box = canvasBox(), v = state.view;
    v.x = box.width / 2 - c.x * v.k;
    v.y = box.height / 2 - c.y * v.k;
    applyView();
  }

  // -- minimap: where the canvas is in a graph too big for it ---------------------------------------
  var mini = { scale: 1, view: null };
  function drawMinimap(data) {
    if (!minimap) { return; }
    while (minimap.firstChild) { minimap.removeChild(minimap.firstChild); }
    var b = state.bounds, mw = 200, mh = 130;
    mini.scale = Math.min(mw / b.w, mh / b.h);
    minimap.setAttribute("width", String(Math.ceil(b.w * mini.scale) + 4));
    minimap.setAttribute("height", String(Math.ceil(b.h * mini.scale) + 4));
    var g = el("g", { transform: "translate(2,2) scale(" + mini.scale + ")" }, minimap);
    data.nodes.forEach(function (n) {
      var c = kindColours(n.kind), p = state.pos[n.id];
      el("rect", { x: p.x, y: p.y, width: W, height: H, fill: c ? c.stroke : "#6b7280",
                   "class": n.id === data.root ? "mini-root" : "" }, g);
    });
    mini.view = el("rect", { "class": "mini-view" }, g);
  }
  function updateMinimap() {
    if (!minimap || !mini.view) { return; }
    var box = canvasBox(), v = state.view, b = state.bounds;
    var fits = b.w * v.k <= box.width && b.h * v.k <= box.height && v.x >= 0 && v.y >= 0 &&
               v.x + b.w * v.k <= box.width && v.y + b.h * v.k <= box.height;
    minimap.toggleAttribute("hidden", fits);  // an SVG element has no .hidden property
    mini.view.setAttribute("x", String(-v.x / v.k));
    mini.view.setAttribute("y", String(-v.y / v.k));
    mini.view.setAttribute("width", String(box.width / v.k));
    mini.view.setAttribute("height", String(box.height / v.k));
    mini.view.setAttribute("stroke-width", String(2 / mini.scale));
  }
  if (minimap) {
    var miniDrag = false;
    var miniMove = function (ev) {
      var r = minimap.getBoundingClientRect(), box = canvasBox(), v = state.view;
      var gx = (ev.clientX - r.left - 2) / mini.scale, gy = (ev.clientY - r.top - 2) / mini.scale;
      v.x = box.width / 2 - gx * v.k; v.y = box.height / 2 - gy * v.k;
      applyView();
    };
    minimap.addEventListener("pointerdown", function (ev) {
      ev.stopPropagation(); miniDrag = true; minimap.setPointerCapture(ev.pointerId); miniMove(ev);
    });
    minimap.addEventListener("pointermove", function (ev) { if (miniDrag) { miniMove(ev); } });
    minimap.addEventListener("pointerup", function (ev) { miniDrag = false; ev.stopPropagation(); });
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
    if (!drag.moved) { drag.moved = true; svg.setPointerCapture(drag.id); svg.classList.add("dragging"); hideTip(); }
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
      if (g) { focusable(g.dataset.id); select(g.dataset.id); }
    }
  }
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);
  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var box = canvasBox();
    hideTip();
    zoomAt(ev.deltaY < 0 ? 1.15 : 1 / 1.15, ev.clientX - box.left, ev.clientY - box.top);
  }, { passive: false });
  document.getElementById("zoom-in").addEventListener("click", function () { zoomStep(1.25); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoomStep(0.8); });
  document.getElementById("zoom-fit").addEventListener("click", fitAll);
  document.getElementById("zoom-home").addEventListener("click", function () { defaultView(); });

  // -- the full name beside the pointer or the focused node -----------------------------------------
  function showTip(id) {
    var n = state.byId[id], p = state.pos[id];
    if (!tip || !n || !p) { return; }
    var v = state.view;
    while (tip.firstChild) { tip.removeChild(tip.firstChild); }
    tip.appendChild(h("strong", label(n)));
    tip.appendChild(h("span", kindLabel(n.kind) + (n.namespace ? " · " + n.namespace : ""), "muted"));
    tip.hidden = false;
    var left = v.x + p.x * v.k, top = v.y + (p.y + H) * v.k + 6;
    var box = canvasBox();
    tip.style.left = Math.max(4, Math.min(left, box.width - tip.offsetWidth - 4)) + "px";
    tip.style.top = (top + tip.offsetHeight > box.height ? v.y + p.y * v.k - tip.offsetHeight - 6 : top) + "px";
  }
  function hideTip() { if (tip) { tip.hidden = true; } }
  svg.addEventListener("pointerover", function (ev) {
    var g = ev.target.closest ? ev.target.closest(".gnode") : null;
    if (g && !drag) { showTip(g.dataset.id); markNear(g.dataset.id); }
  });
  svg.addEventListener("pointerout", function (ev) {
    var g = ev.target.closest ? ev.target.closest(".gnode") : null;
    if (g && (!ev.relatedTarget || !g.contains(ev.relatedTarget))) { hideTip(); markNear(state.focused || state.selected); }
  });

  // -- keyboard: one tab stop in the graph, arrows between neighbours --------------------------------
  function focusable(id) {
    if (state.focused && state.elements[state.focused]) { state.elements[state.focused].setAttribute("tabindex", "-1"); }
    state.focused = id;
    if (state.elements[id]) { state.elements[id].setAttribute("tabindex", "0"); }
  }
  function moveTo(id) {
    if (!id || !state.elements[id]) { return; }
    focusable(id);
    state.elements[id].focus();
  }
  // The neighbour along `list` nearest to the node's row (or column), so arrows follow the drawing.
  function nearest(id, list) {
    var me = state.byId[id], best = null, gap = Infinity;
    list.forEach(function (other) {
      var d = Math.abs(state.byId[other].row - me.row);
      if (d < gap) { gap = d; best = other; }
    });
    return best;
  }
  function sibling(id, step) {
    var layer = state.layers[state.byId[id].layer] || [];
    var i = layer.indexOf(id) + step;
    return i >= 0 && i < layer.length ? layer[i] : null;
  }
  var ARROWS = {
    lr: { ArrowRight: "down", ArrowLeft: "up", ArrowDown: 1, ArrowUp: -1 },
    tb: { ArrowDown: "down", ArrowUp: "up", ArrowRight: 1, ArrowLeft: -1 }
  };
  svg.addEventListener("keydown", function (ev) {
    var g = ev.target.closest ? ev.target.closest(".gnode") : null;
    if (g && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); select(g.dataset.id); return; }
    if (g && (ev.key === "e" || ev.key === "E")) { ev.preventDefault(); expand(g.dataset.id); return; }
    var move = g ? ARROWS[state.orient][ev.key] : undefined;
    if (move !== undefined) {
      ev.preventDefault();
      var id = g.dataset.id;
      var target = move === "down" ? nearest(id, state.down[id]) : move === "up" ? nearest(id, state.up[id])
                                                                               : sibling(id, move);
      if (target) { moveTo(target); } else { say("No node that way."); }
      return;
    }
    if (ev.key === "Home" && state.data) { ev.preventDefault(); moveTo(state.data.root); }
    else if (ev.key === "+" || ev.key === "=") { zoomStep(1.25); }
    else if (ev.key === "-") { zoomStep(0.8); }
  });
  svg.addEventListener("focusin", function (ev) {
    var g = ev.target.closest ? ev.target.closest(".gnode") : null;
    if (g) { focusable(g.dataset.id); centreOn(g.dataset.id); showTip(g.dataset.id); markNear(g.dataset.id); }
  });
  svg.addEventListener("focusout", function () { hideTip(); });
  var skip = document.getElementById("skip-to-start");
  if (skip) {
    skip.addEventListener("click", function (ev) {
      ev.preventDefault();
      if (state.data) { centreOn(state.data.root); moveTo(state.data.root); }
    });
  }

  // -- controls --------------------------------------------------------------------------------------
  depthInput.addEventListener("input", function () { depthOut.textContent = depthInput.value; });
  depthInput.addEventListener("change", function () { state.depth = parseInt(depthInput.value, 10); load(false); });
  directionInput.addEventListener("change", function () { state.direction = directionInput.value; load(false); });
  if (turnButton) {
    turnButton.addEventListener("click", function () {
      if (!state.data) { return; }
      state.turned = state.orient === "lr" ? "tb" : "lr";
      place(state.turned); draw(state.data); defaultView();
      if (state.path) { highlight(state.path); }
      say("The graph is drawn " + (state.orient === "lr" ? "left to right." : "top to bottom."));
    });
  }
  controls.addEventListener("change", function (ev) {
    if (ev.target && ev.target.hasAttribute && ev.target.hasAttribute("data-graph-param")) { load(false); }
  });
  controls.addEventListener("submit", function (ev) { ev.preventDefault(); load(false); });
  if (asOfInput) {
    asOfInput.addEventListener("change", function () { load(false); });
    asOfKindInput.addEventListener("change", function () { load(false); });
  }
  resetExpand.addEventListener("click", function () { state.expand = []; load(false); });
  clearPathBtn.addEventListener("click", clearPath);

  function expand(id) {
    if (state.expand.indexOf(id) < 0 && id !== state.node) {
      if (state.expand.length >= cfg.maxExpand) { state.expand.shift(); }
      state.expand.push(id);
    }
    load(true).then(function () { centreOn(id); moveTo(id); });
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
    getJSON(nodeUrl(id) + asOfQuery()).then(function (d) { if (state.selected === id) { renderPanel(d, n); } })
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
  // The drawn edges of a node, in words: "reads clinical.patients #initial".
  function neighbourList(id) {
    var ul = h("ul", null, "plain edges-list");
    (state.data ? state.data.edges : []).forEach(function (e) {
      if (e.source !== id && e.target !== id) { return; }
      var other = state.byId[e.source === id ? e.target : e.source];
      if (!other) { return; }
      var li = h("li");
      li.appendChild(h("span", (e.source === id ? "→ " : "← ") + edgeWords(e.kind), "kind"));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(link(exploreUrl(other.id), label(other)));
      ul.appendChild(li);
    });
    return ul;
  }

  function renderPanel(d, n) {
    while (panelBody.firstChild) { panelBody.removeChild(panelBody.firstChild); }
    panelBody.appendChild(h("p", kindLabel(d.kind), "kind"));
    var dl = h("dl", null, "facts");
    fact(dl, "Name", n ? label(n) : d.name);
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
    fact(dl, "Updated", when(d.updatedAt));
    panelBody.appendChild(dl);

    var buttons = h("div", null, "buttons");
    buttons.appendChild(link(pageUrl(d.id), "Open page"));
    if (d.id !== state.node) { buttons.appendChild(link(exploreUrl(d.id), "Start here")); }
    if (state.byId[d.id]) { buttons.appendChild(button("Expand in place", function () { expand(d.id); })); }
    buttons.appendChild(button(state.pathFrom ? "Path from " + shorten(state.pathFrom, 20) + " to here" : "Path from here",
      function () { pathClick(d.id); }));
    panelBody.appendChild(buttons);

    if (state.byId[d.id]) {
      panelBody.appendChild(h("h3", "Edges drawn"));
      panelBody.appendChild(neighbourList(d.id));
    }
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
    root.dispatchEvent(new CustomEvent("explorer:details", { detail: { node: d, panel: panelBody } }));
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

  var resizeTimer = 0;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      if (!state.data) { return; }
      place(chooseOrientation()); draw(state.data); defaultView();
      if (state.path) { highlight(state.path); }
    }, 150);
  });
  load(false);
}());
