/* Explorer: a dataset's columns, loaded on demand into the details panel (GET /api/v1/nodes/<id>/columns).
 * Each column with its classification tags, the sensitive tags that reach it over column lineage (carried
 * through DIRECT edges, or only influencing it through a filter or join), and its column edges one step up
 * and down. It listens for the explorer's `explorer:details` event and adds the section for datasets and
 * dataset versions; explorer.js knows nothing of it. Every server text goes through textContent. */
(function () {
  "use strict";

  function h(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }
  function tag(name) { return h("span", name, "tag tag-" + name); }
  function gap(parent) { parent.appendChild(document.createTextNode(" ")); }

  function transformations(list) {
    return list.map(function (t) { return t.subtype ? t.type + "/" + t.subtype : t.type; }).join(", ");
  }

  function ends(list, exploreUrl, arrow) {
    var ul = h("ul", null, "plain column-edges");
    list.forEach(function (e) {
      var li = h("li");
      li.appendChild(h("span", arrow, "muted"));
      gap(li);
      var a = h("a", e.dataset.replace(/^dataset:/, ""));
      a.href = exploreUrl(e.dataset);
      li.appendChild(a);
      li.appendChild(document.createTextNode(" · "));
      li.appendChild(h("code", e.field === null ? "(whole dataset)" : e.field));
      gap(li);
      li.appendChild(h("small", transformations(e.transformations), "kind"));
      ul.appendChild(li);
    });
    return ul;
  }

  function reaching(r) {
    var span = h("span");
    Object.keys(r.carries || {}).forEach(function (t) {
      var s = tag(t);
      s.title = "carried from " + r.carries[t].map(function (c) { return c.field; }).join(", ");
      span.appendChild(s); gap(span);
    });
    var infl = Object.keys(r.influencedBy || {});
    if (infl.length) { span.appendChild(h("small", "influenced by " + infl.join(", "), "muted")); }
    return span;
  }

  function render(box, body, exploreUrl) {
    while (box.firstChild) { box.removeChild(box.firstChild); }
    if (!body.columns.length) { box.appendChild(h("p", "No columns known.", "muted")); return; }
    body.columns.forEach(function (c) {
      var det = h("details", null, "column");
      var sum = h("summary");
      sum.appendChild(h("code", c.name));
      if (c.type) { gap(sum); sum.appendChild(h("small", c.type, "muted")); }
      c.tags.forEach(function (t) { gap(sum); sum.appendChild(tag(t)); });
      var r = reaching(c.reaching);
      if (r.childNodes.length) { gap(sum); sum.appendChild(h("small", "reached by", "muted")); gap(sum); sum.appendChild(r); }
      det.appendChild(sum);
      if (c.upstream.length) { det.appendChild(ends(c.upstream, exploreUrl, "from")); }
      if (c.downstream.length) { det.appendChild(ends(c.downstream, exploreUrl, "to")); }
      if (!c.upstream.length && !c.downstream.length) { det.appendChild(h("p", "No column edges.", "muted")); }
      box.appendChild(det);
    });
    if (body.wholeDataset.length) {
      box.appendChild(h("h4", "Filtered or joined by"));
      box.appendChild(ends(body.wholeDataset, exploreUrl, "by"));
    }
    if (body.hidden) { box.appendChild(h("p", "Edges to datasets you may not see are left out.", "muted")); }
    if (body.truncated) { box.appendChild(h("p", "Cut at the size bound: the node page has the rest.", "muted")); }
  }

  function attach(panel, nodeApiUrl, exploreUrl) {
    var section = h("details", null, "columns-section");
    section.id = "columns-section";
    section.appendChild(h("summary", "Columns"));
    var box = h("div");
    section.appendChild(box);
    var loaded = false;
    section.addEventListener("toggle", function () {
      if (!section.open || loaded) { return; }
      loaded = true;
      box.appendChild(h("p", "Loading…", "muted"));
      fetch(nodeApiUrl + "/columns", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (resp) {
          if (!resp.ok) { throw new Error("HTTP " + resp.status); }
          return resp.json();
        })
        .then(function (body) { render(box, body, exploreUrl); })
        .catch(function (err) { loaded = false; box.textContent = "Could not load the columns: " + err.message; });
    });
    panel.appendChild(section);
    return section;
  }

  // The explorer announces each filled details panel (explorer.js): datasets and versions get the section.
  var root = document.getElementById("explorer");
  var cfgEl = document.getElementById("explorer-config");
  if (root && cfgEl) {
    var cfg = JSON.parse(cfgEl.textContent);
    root.addEventListener("explorer:details", function (ev) {
      var d = ev.detail.node;
      if (d.kind !== "dataset" && d.kind !== "datasetVersion") { return; }
      attach(ev.detail.panel, cfg.nodeApi + encodeURIComponent(d.id),
        function (id) { return cfg.explorePage + "?node=" + encodeURIComponent(id); });
    });
  }
  window.PortalColumns = { attach: attach };
})();
