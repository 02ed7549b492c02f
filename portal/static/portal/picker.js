// Node pickers: an input with data-picker-kind offers, as you type, the nodes of that kind you may see
// (GET /api/v1/nodes?kind=&q=, which filters by visibility), in a <datalist>. The value entered is what the form
// needs (data-picker-value: id (the node id, by default), name or namespace); the option's label says what it is. With
// data-picker-multi the suggestions complete the last comma-separated item.
(function () {
  "use strict";
  var api = document.querySelector("meta[name=portal-nodes-api]");
  var url = api ? api.content : "/api/v1/nodes";
  function label(node) {
    var what = node.name + (node.version ? " v" + node.version : "");
    return what + (node.environment ? " @ " + node.environment : "") + " (" + node.namespace + ")";
  }
  function attach(input, index) {
    var list = document.createElement("datalist");
    list.id = "picker-" + index;
    input.setAttribute("list", list.id);
    input.setAttribute("autocomplete", "off");
    input.insertAdjacentElement("afterend", list);
    var field = input.dataset.pickerValue || "id";
    var multi = input.hasAttribute("data-picker-multi");
    var timer = null;
    var asked = "";
    function search() {
      var parts = input.value.split(",");
      var term = (multi ? parts[parts.length - 1] : input.value).trim();
      if (term.length < 2 || term === asked) { return; }
      asked = term;
      var q = url + "?limit=20&kind=" + encodeURIComponent(input.dataset.pickerKind) + "&q=" + encodeURIComponent(term);
      fetch(q, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (page) {
          var prefix = multi ? parts.slice(0, -1).map(function (p) { return p.trim(); }).filter(Boolean) : [];
          var seen = {};
          list.replaceChildren();
          (page.results || []).forEach(function (node) {
            var value = prefix.concat([node[field]]).join(", ");
            if (seen[value]) { return; }
            seen[value] = true;
            var option = document.createElement("option");
            option.value = value;
            option.label = label(node);
            option.textContent = label(node);
            list.appendChild(option);
          });
        })
        .catch(function () { asked = ""; });
    }
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(search, 200);
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[data-picker-kind]"), attach);
}());
