/* kith.listening: the engagement queue updates itself.
   One EventSource to [data-listening-stream]; each "changed" event (a mention arrived,
   was assigned, answered, converted…) re-reads the rows fragment ([data-listening-rows])
   after a short pause, so a burst of new mentions is one request. Ticked boxes and an
   open actions menu are kept across the refresh.
   A row's "More actions" forms are built from the page's one
   <template id="mention-actions-template"> when the menu opens (six forms per row were most
   of the page); without JavaScript the menu links to the mention's own actions page. */
(function () {
  "use strict";
  var source = null;
  var timer = null;

  function rows() { return document.getElementById("queue-rows"); }

  // The row's "More actions" forms, cloned from the template with the row's id put in.
  function buildActions(details) {
    if (details.querySelector(".mention-more-forms")) { return; }
    var template = document.getElementById("mention-actions-template");
    var row = details.closest("[data-mention]");
    if (!template || !row) { return; }
    var placeholder = template.getAttribute("data-placeholder");
    var id = row.getAttribute("data-mention");
    var forms = template.content.firstElementChild.cloneNode(true);
    forms.querySelectorAll("[action], [id], [for]").forEach(function (el) {
      ["action", "id", "for"].forEach(function (name) {
        var value = el.getAttribute(name);
        if (value) { el.setAttribute(name, value.split(placeholder).join(id)); }
      });
    });
    var fallback = details.querySelector(".mention-more-nojs");
    if (fallback) { fallback.remove(); }
    details.appendChild(forms);
  }

  // "toggle" does not bubble: listen in the capture phase.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (details.matches && details.matches("details.mention-more") && details.open) { buildActions(details); }
  }, true);

  function refresh() {
    timer = null;
    var current = rows();
    if (!current) { return; }
    var ticked = {};
    current.querySelectorAll("input[name=mention]:checked").forEach(function (el) { ticked[el.value] = true; });
    var open = {};
    current.querySelectorAll("details.mention-more[open]").forEach(function (el) {
      var row = el.closest("[data-mention]");
      if (row) { open[row.getAttribute("data-mention")] = true; }
    });
    if (current.contains(document.activeElement) && document.activeElement.tagName === "INPUT") {
      return; // someone is typing a reply link: do not replace the row under them
    }
    fetch(current.getAttribute("data-listening-rows"), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var t = document.createElement("template");
        t.innerHTML = html.trim();
        var fresh = t.content.firstElementChild;
        if (!fresh) { return; }
        fresh.querySelectorAll("input[name=mention]").forEach(function (el) { if (ticked[el.value]) { el.checked = true; } });
        fresh.querySelectorAll("[data-mention]").forEach(function (row) {
          if (open[row.getAttribute("data-mention")]) {
            var d = row.querySelector("details.mention-more");
            if (d) { d.open = true; buildActions(d); }
          }
        });
        rows().replaceWith(fresh);
        if (window.htmx) { window.htmx.process(fresh); }
        document.body.setAttribute("data-listening-refreshed", String(Date.now()));
      });
  }

  function connect() {
    var holder = document.querySelector("[data-listening-stream]");
    if (!holder || source || !window.EventSource) { return; }
    source = new EventSource(holder.getAttribute("data-listening-stream"));
    source.addEventListener("hello", function () { document.body.setAttribute("data-listening-live", "1"); });
    source.addEventListener("changed", function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(refresh, 250);
    });
    source.addEventListener("bye", function () { document.body.removeAttribute("data-listening-live"); });
    window.addEventListener("pagehide", function () { if (source) { source.close(); source = null; } });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
