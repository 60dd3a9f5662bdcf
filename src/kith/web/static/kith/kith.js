/* Kith: small progressive enhancements. Every page works without this file.
   - "/" focuses the page's search box (like many web apps); Escape leaves it.
   - Failed htmx requests (403, 404, 500…) show a short message instead of doing nothing.
   - Behaviour that templates would otherwise write inline (the Content-Security-Policy
     forbids on…= attributes and inline scripts), declared with data attributes:
     data-confirm="Question?" on a form asks before submitting it;
     data-autosubmit on a field submits its form when it changes;
     data-select-on-focus on a field selects its text when focused. */
(function () {
  "use strict";

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "/" && !isTyping(document.activeElement)) {
      var boxes = document.querySelectorAll("[data-search-shortcut]");
      // The page's own search box comes after the header's; prefer a visible one.
      for (var i = boxes.length - 1; i >= 0; i--) {
        if (boxes[i].offsetParent !== null) {
          event.preventDefault();
          boxes[i].focus();
          boxes[i].select();
          return;
        }
      }
    } else if (event.key === "Escape" && document.activeElement && document.activeElement.matches("[data-search-shortcut]")) {
      document.activeElement.blur();
    }
  });

  var toastTimer = null;
  function toast(text) {
    var el = document.getElementById("toast");
    if (!el) return;
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.hidden = true; }, 5000);
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var messages = {
      403: "You do not have permission to do that.",
      404: "That record no longer exists, or you cannot see it.",
      409: "Someone changed this at the same moment. Reload and try again."
    };
    toast(messages[status] || "Something went wrong (" + status + "). Please try again.");
  });
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-autosubmit]") && field.form) field.form.submit();
  });
  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-select-on-focus]")) field.select();
  });
  document.addEventListener("htmx:sendError", function () {
    toast("Cannot reach Kith. Check your connection and try again.");
  });
})();
