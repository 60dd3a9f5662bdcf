/* Kith customer portal behaviour. Static file only: the CSP forbids inline scripts.
 *
 * - htmx requests carry the CSRF token read from <body data-csrf>.
 * - A list marked data-live-src="URL" with data-live-events="a,b" is refreshed (its
 *   HTML re-fetched from URL) whenever the event stream announces one of those events.
 * - [data-unread-count] badges are updated from the same stream.
 */
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (evt) {
    var token = document.body.dataset.csrf;
    if (token) { evt.detail.headers["X-CSRFToken"] = token; }
  });

  function refresh(el, retries) {
    var url = el.dataset.liveSrc;
    if (!url) { return; }
    var again = function () {
      // One more try shortly after: a refresh lost to a blip must not leave the list stale.
      if ((retries || 0) < 2) { setTimeout(function () { refresh(el, (retries || 0) + 1); }, 1000); }
    };
    fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { again(); return; }
        el.innerHTML = html;
        if (window.htmx) { window.htmx.process(el); }
      }, again);
  }

  function start() {
    var streamEl = document.querySelector("[data-stream-url]");
    if (!streamEl || !window.EventSource) { return; }
    var source = new EventSource(streamEl.dataset.streamUrl);
    var handle = function (name) {
      return function () {
        document.querySelectorAll("[data-live-src]").forEach(function (el) {
          var wanted = (el.dataset.liveEvents || "").split(",");
          if (wanted.indexOf(name) !== -1) { refresh(el); }
        });
      };
    };
    ["notification", "post", "comment"].forEach(function (name) {
      source.addEventListener(name, handle(name));
    });
    var setUnread = function (evt) {
      var count = 0;
      try { count = JSON.parse(evt.data).unread || 0; } catch (e) { count = 0; }
      document.querySelectorAll("[data-unread-count]").forEach(function (b) {
        b.textContent = String(count);
        b.hidden = count === 0;
      });
    };
    source.addEventListener("hello", setUnread);
    source.addEventListener("notification", setUnread);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else { start(); }
})();
