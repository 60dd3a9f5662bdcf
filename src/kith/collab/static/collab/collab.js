/* kith.collab live updates and mention autocomplete.
   - One EventSource per page, to the first [data-collab-stream] URL: new posts appear at
     the top of the feed, edited/commented posts are replaced, the unread badge follows.
   - Textareas/inputs with [data-collab-mention] suggest @users and people as you type. */
(function () {
  "use strict";
  var source = null;

  function setUnread(count) {
    document.querySelectorAll("[data-collab-unread]").forEach(function (el) {
      el.textContent = String(count);
      el.hidden = !count;
    });
  }

  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }

  function activate(el) {
    if (window.htmx && el) { window.htmx.process(el); }
  }

  function onPost(event, replaceOnly) {
    var data = JSON.parse(event.data);
    var existing = document.getElementById("post-" + data.post);
    var el = fragment(data.html);
    if (!el) { return; }
    if (existing) {
      existing.replaceWith(el);
    } else if (!replaceOnly) {
      var list = document.querySelector("[data-collab-posts]");
      if (!list) { return; }
      var empty = list.querySelector(".collab-empty");
      if (empty) { empty.remove(); }
      list.prepend(el);
      el.classList.add("collab-new");
    } else {
      return;
    }
    activate(el);
  }

  // The notifications page: new rows arrive without a reload (the list is re-read).
  function refreshNotifications() {
    var list = document.querySelector("[data-collab-notifications]");
    if (!list) { return; }
    fetch(list.getAttribute("data-collab-notifications"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        var fresh = html && fragment(html);
        if (fresh) { list.replaceWith(fresh); }
      });
  }

  function connect() {
    var holder = document.querySelector("[data-collab-stream]");
    if (!holder || source || !window.EventSource) { return; }
    source = new EventSource(holder.getAttribute("data-collab-stream"));
    source.addEventListener("hello", function (e) {
      document.body.setAttribute("data-collab-live", "1");
      setUnread(JSON.parse(e.data).unread);
    });
    source.addEventListener("notification", function (e) {
      setUnread(JSON.parse(e.data).unread);
      refreshNotifications();
    });
    source.addEventListener("post", function (e) { onPost(e, false); });
    source.addEventListener("post_edited", function (e) { onPost(e, true); });
    source.addEventListener("comment", function (e) { onPost(e, true); });
    source.addEventListener("post_deleted", function (e) {
      var el = document.getElementById("post-" + JSON.parse(e.data).post);
      if (el) { el.remove(); }
    });
    source.onerror = function () { document.body.removeAttribute("data-collab-live"); };
  }

  // ------------------------------------------------------------ @mention autocomplete
  var box = null, field = null, items = [], active = 0, timer = null;

  function closeBox() { if (box) { box.remove(); box = null; } items = []; }

  function query(el) {
    var upto = el.value.slice(0, el.selectionStart);
    var m = /(^|\s)@([\w.\-]{1,30})$/.exec(upto);
    return m ? m[2] : null;
  }

  function choose(i) {
    if (!field || !items[i]) { return; }
    var pos = field.selectionStart;
    var upto = field.value.slice(0, pos);
    var start = upto.lastIndexOf("@");
    field.value = field.value.slice(0, start) + items[i].insert + " " + field.value.slice(pos);
    var caret = start + items[i].insert.length + 1;
    field.setSelectionRange(caret, caret);
    field.focus();
    closeBox();
  }

  function show(el, found) {
    closeBox();
    if (!found.length) { return; }
    items = found; active = 0; field = el;
    box = document.createElement("ul");
    box.className = "collab-suggest";
    box.setAttribute("role", "listbox");
    found.forEach(function (item, i) {
      var li = document.createElement("li");
      li.textContent = item.label;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === 0 ? "true" : "false");
      li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(i); });
      box.appendChild(li);
    });
    var r = el.getBoundingClientRect();
    box.style.left = (window.scrollX + r.left) + "px";
    box.style.top = (window.scrollY + r.bottom) + "px";
    document.body.appendChild(box);
  }

  document.addEventListener("input", function (e) {
    var el = e.target;
    if (!el.matches || !el.matches("[data-collab-mention]")) { return; }
    var q = query(el);
    clearTimeout(timer);
    if (!q) { closeBox(); return; }
    timer = setTimeout(function () {
      fetch("/collab/suggest/?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) { show(el, data.items || []); })
        .catch(function () { closeBox(); });
    }, 150);
  });

  document.addEventListener("keydown", function (e) {
    if (!box) { return; }
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      box.querySelectorAll("li").forEach(function (li, i) {
        li.setAttribute("aria-selected", i === active ? "true" : "false");
      });
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      choose(active);
    } else if (e.key === "Escape") {
      closeBox();
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
