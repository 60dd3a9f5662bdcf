/* Kith: small progressive enhancements. Every page works without this file.
   - Ctrl-K (or "/" on a page without a search box of its own) opens the command palette,
     which searches everything; "/" focuses the page's own search box; Escape leaves it.
   - Failed htmx requests (403, 404, 500…) show a short message instead of doing nothing.
   - Behaviour that templates would otherwise write inline (the Content-Security-Policy
     forbids on…= attributes and inline scripts), declared with data attributes:
     data-confirm="Question?" on a form asks before submitting it;
     data-autosubmit on a field submits its form when it changes;
     data-select-on-focus on a field selects its text when focused.
   - Record pickers: a <select data-picker="person|organization" data-picker-url=…>
     becomes a type-ahead over the search service (arrow keys, Enter, Escape), with
     "Create …" when data-picker-new-url is set; the select stays the form's field. */
(function () {
  "use strict";

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  // The command palette (#palette, a <dialog>): Ctrl-K / Cmd-K anywhere, "/" where the
  // page has no search box of its own; arrow keys walk the results, Enter opens one.
  function palette() { return document.getElementById("palette"); }
  function openPalette() {
    var dialog = palette();
    if (!dialog) return false;
    if (!dialog.open) dialog.showModal();
    var input = dialog.querySelector("input[type=search]");
    if (input) { input.focus(); input.select(); }
    return true;
  }
  function paletteHits() {
    var dialog = palette();
    return dialog ? Array.prototype.slice.call(dialog.querySelectorAll(".palette-hit")) : [];
  }
  // The header's search box hands over to the palette (it stays a plain GET form
  // to the search page without JavaScript).
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-palette-focus]") && palette()) {
      var typed = event.target.value;
      event.target.value = "";
      event.target.blur();
      openPalette();
      if (typed) {
        var input = palette().querySelector("input[type=search]");
        input.value = typed;
        input.dispatchEvent(new Event("input", { bubbles: true }));
      }
    }
  });
  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-palette-open]");
    if (opener && openPalette()) event.preventDefault();
    var dialog = palette();
    // A click on the backdrop (the dialog element itself, outside its box) closes it.
    if (dialog && dialog.open && event.target === dialog) dialog.close();
  });
  document.addEventListener("keydown", function (event) {
    var dialog = palette();
    if (dialog && dialog.open && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      var hits = paletteHits();
      if (!hits.length) return;
      event.preventDefault();
      var at = hits.indexOf(document.activeElement);
      var next = event.key === "ArrowDown" ? at + 1 : at - 1;
      if (next < 0) { dialog.querySelector("input[type=search]").focus(); return; }
      hits[Math.min(next, hits.length - 1)].focus();
      return;
    }
    if (dialog && dialog.open && event.key === "Enter" && document.activeElement && document.activeElement.id === "palette-q") {
      var first = paletteHits()[0];
      if (first) { event.preventDefault(); first.click(); }
      return;
    }
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "k" || event.key === "K")) {
      if (openPalette()) event.preventDefault();
      return;
    }
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "/" && !isTyping(document.activeElement)) {
      // The page's own search box (inside <main>) first; otherwise the palette.
      var boxes = document.querySelectorAll("#main [data-search-shortcut]");
      for (var i = boxes.length - 1; i >= 0; i--) {
        if (boxes[i].offsetParent !== null) {
          event.preventDefault();
          boxes[i].focus();
          boxes[i].select();
          return;
        }
      }
      if (openPalette()) event.preventDefault();
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
  // ------------------------------------------------------------ record pickers
  var pickerCount = 0;

  function csrfToken() {
    var holder = document.body.getAttribute("hx-headers");
    try { return JSON.parse(holder)["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function ensureOption(select, id, name) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === id) { select.options[i].selected = true; return; }
    }
    var option = new Option(name, id, true, true);
    select.appendChild(option);
  }

  function enhancePicker(select) {
    if (select.dataset.pickerReady) return;
    select.dataset.pickerReady = "1";
    var multiple = select.multiple;
    var kind = select.dataset.picker;
    var n = ++pickerCount;
    var wrap = document.createElement("div");
    wrap.className = "picker";
    var chips = document.createElement("ul");
    chips.className = "picker-chips";
    var input = document.createElement("input");
    input.type = "text";
    input.autocomplete = "off";
    input.id = (select.id || "picker" + n) + "_search";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.placeholder = kind === "organization" ? "Type to find an organisation…" : "Type to find a person…";
    var list = document.createElement("ul");
    list.className = "picker-list";
    list.id = "picker-list-" + n;
    list.setAttribute("role", "listbox");
    list.hidden = true;
    input.setAttribute("aria-controls", list.id);
    var label = select.id && document.querySelector('label[for="' + select.id + '"]');
    if (label) label.htmlFor = input.id;
    select.hidden = true;
    select.setAttribute("aria-hidden", "true");
    select.tabIndex = -1;
    select.parentNode.insertBefore(wrap, select.nextSibling);
    if (multiple) wrap.appendChild(chips);
    wrap.appendChild(input);
    wrap.appendChild(list);

    var rows = [];
    var active = -1;
    var timer = null;
    var seq = 0;

    function drawChips() {
      chips.textContent = "";
      Array.prototype.forEach.call(select.selectedOptions, function (option) {
        if (!option.value) return;
        var li = document.createElement("li");
        li.textContent = option.text + " ";
        var remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "×";
        remove.setAttribute("aria-label", "Remove " + option.text);
        remove.addEventListener("click", function () {
          option.selected = false;
          drawChips();
          input.focus();
        });
        li.appendChild(remove);
        chips.appendChild(li);
      });
    }
    function showSelected() {
      if (multiple) { drawChips(); input.value = ""; return; }
      var option = select.selectedOptions[0];
      input.value = option && option.value ? option.text : "";
    }
    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }
    function highlight(index) {
      var items = list.querySelectorAll("[role=option]");
      if (!items.length) return;
      active = (index + items.length) % items.length;
      items.forEach(function (item, i) { item.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", items[active].id);
      items[active].scrollIntoView({ block: "nearest" });
    }
    function choose(row) {
      ensureOption(select, row.id, row.name);
      select.dispatchEvent(new Event("change", { bubbles: true }));
      close();
      showSelected();
    }
    function createNew(name) {
      var body = new URLSearchParams({ kind: kind, name: name });
      fetch(select.dataset.pickerNewUrl, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      }).then(function (result) {
        if (result.ok) choose(result.data);
        else toast(result.data.detail || "Could not create it.");
      }).catch(function () { toast("Cannot reach Kith. Check your connection and try again."); });
    }
    function render(q) {
      list.textContent = "";
      var entries = rows.map(function (row) { return { row: row }; });
      if (select.dataset.pickerNewUrl && q) entries.push({ create: q });
      if (!entries.length) {
        var empty = document.createElement("li");
        empty.className = "picker-empty";
        empty.textContent = "No match.";
        list.appendChild(empty);
      }
      entries.forEach(function (entry, i) {
        var li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        if (entry.create) {
          li.className = "picker-create";
          li.textContent = "Create " + (kind === "organization" ? "organisation" : "person") + " “" + entry.create + "”";
        } else {
          li.textContent = entry.row.name;
          if (entry.row.detail) {
            var small = document.createElement("small");
            small.textContent = " · " + entry.row.detail;
            li.appendChild(small);
          }
        }
        // mousedown, not click: it fires before the input's blur closes the list.
        li.addEventListener("mousedown", function (event) {
          event.preventDefault();
          if (entry.create) createNew(entry.create); else choose(entry.row);
        });
        li._entry = entry;
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      active = -1;
      if (rows.length) highlight(0);
    }
    function lookup() {
      var q = input.value.trim();
      if (!q) { rows = []; close(); return; }
      var mine = ++seq;
      var url = select.dataset.pickerUrl + "?kind=" + encodeURIComponent(kind) + "&q=" + encodeURIComponent(q);
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (mine !== seq) return;  // a later keystroke already asked again
          rows = data.results || [];
          render(q);
        })
        .catch(function () { toast("Cannot reach Kith. Check your connection and try again."); });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(lookup, 150);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) { lookup(); return; }
        highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter") {
        if (list.hidden) return;
        event.preventDefault();  // choosing, not submitting the form
        var item = list.querySelectorAll("[role=option]")[active];
        if (!item) return;
        if (item._entry.create) createNew(item._entry.create); else choose(item._entry.row);
      } else if (event.key === "Escape" && !list.hidden) {
        event.preventDefault();
        close();
        showSelected();
      } else if (event.key === "Backspace" && multiple && !input.value) {
        var chosen = select.selectedOptions;
        if (chosen.length) { chosen[chosen.length - 1].selected = false; drawChips(); }
      }
    });
    input.addEventListener("blur", function () {
      close();
      // Emptying a single picker clears the choice; anything else shows it back.
      if (!multiple && !input.value.trim()) select.value = "";
      showSelected();
    });
    showSelected();
  }

  function enhancePickers(root) {
    if (!root || !root.querySelectorAll) return;
    root.querySelectorAll("select[data-picker]").forEach(enhancePicker);
  }
  document.addEventListener("DOMContentLoaded", function () { enhancePickers(document); });
  document.addEventListener("htmx:load", function (event) { enhancePickers(event.target); });
  document.addEventListener("htmx:sendError", function () {
    toast("Cannot reach Kith. Check your connection and try again.");
  });

  // Bulk actions on a list (#bulk-form): row checkboxes live in the results (they belong
  // to the form through form="bulk-form"), "Select this page" ticks them all, the action
  // shows its own field, and deleting asks first.
  function bulkCount() {
    var counter = document.querySelector("[data-bulk-count]");
    if (!counter) return;
    counter.textContent = document.querySelectorAll("[data-bulk-row]:checked").length;
  }
  function bulkArgs() {
    var select = document.querySelector("[data-bulk-action]");
    if (!select) return;
    document.querySelectorAll("[data-bulk-arg]").forEach(function (field) {
      field.hidden = field.getAttribute("data-bulk-arg").split(" ").indexOf(select.value) < 0;
    });
  }
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("[data-bulk-all]")) {
      document.querySelectorAll("[data-bulk-row]").forEach(function (box) { box.checked = el.checked; });
    }
    if (el.matches && (el.matches("[data-bulk-row]") || el.matches("[data-bulk-all]"))) {
      var selected = document.querySelector("#bulk-form input[name=scope][value=selected]");
      if (selected) selected.checked = true;
      bulkCount();
    }
    if (el.matches && el.matches("[data-bulk-action]")) bulkArgs();
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "bulk-form") return;
    var action = form.querySelector("[data-bulk-action]");
    var button = form.querySelector("[data-confirm-delete]");
    if (action && action.value === "delete" && button && !window.confirm(button.getAttribute("data-confirm-delete"))) {
      event.preventDefault();
    }
  });
  document.addEventListener("htmx:afterSwap", bulkCount);
  bulkArgs();
})();
