/* Sales board: drag a card onto another column to move the deal.
   Every card has a "Move" control that works with the keyboard: its form is built from
   the board's one <template id="deal-move-template"> when the control is opened (a form
   per card made the page twice as heavy); without JavaScript it links to the deal's
   page, which has the same form. Dropping submits that same form through htmx. */
(function () {
  "use strict";
  var dragged = null;

  function column(el) { return el && el.closest ? el.closest(".board-col") : null; }

  // The card's move form, built from the template on first use.
  function moveForm(card) {
    var details = card.querySelector(".deal-move");
    if (!details) return null;
    var form = details.querySelector("form");
    if (form) return form;
    var template = document.getElementById("deal-move-template");
    if (!template) return null;
    form = template.content.querySelector("form").cloneNode(true);
    var id = card.dataset.deal;
    var title = card.querySelector(".deal-card-title");
    form.setAttribute("action", card.dataset.moveUrl);
    form.setAttribute("hx-post", card.dataset.moveUrl);
    var select = form.querySelector("[name=stage]");
    select.id = "move-" + id;
    select.value = column(card).dataset.stage;
    var stageLabel = form.querySelector("[data-role=stage-label]");
    stageLabel.htmlFor = select.id;
    stageLabel.textContent = "Move \u201c" + (title ? title.textContent.trim() : "") + "\u201d to";
    var reason = form.querySelector("[name=lost_reason]");
    reason.id = "reason-" + id;
    form.querySelector("[data-role=reason-label]").htmlFor = reason.id;
    var fallback = details.querySelector(".deal-move-nojs");
    if (fallback) fallback.remove();
    details.appendChild(form);
    if (window.htmx) window.htmx.process(form);
    return form;
  }

  // "toggle" does not bubble: listen in the capture phase.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.matches || !details.matches(".deal-move[data-lazy]") || !details.open) return;
    var card = details.closest(".deal-card");
    if (card) moveForm(card);
  }, true);

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".deal-card[draggable='true']");
    if (!card) return;
    dragged = card;
    card.classList.add("is-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.deal);
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("is-dragging");
    dragged = null;
    document.querySelectorAll(".board-col.is-drop").forEach(function (c) { c.classList.remove("is-drop"); });
  });
  document.addEventListener("dragover", function (event) {
    var col = column(event.target);
    if (!dragged || !col) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".board-col.is-drop").forEach(function (c) { if (c !== col) c.classList.remove("is-drop"); });
    col.classList.add("is-drop");
  });
  // After a move the board is redrawn: keep keyboard focus on the moved card (its title
  // link), without scrolling the page, so a keyboard or phone user stays where they were.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var board = document.getElementById("board");
    if (!board || !board.dataset.moved) return;
    var card = board.querySelector(".deal-card[data-deal='" + board.dataset.moved + "'] .deal-card-title");
    if (card) card.focus({ preventScroll: true });
  });
  document.addEventListener("drop", function (event) {
    var col = column(event.target);
    if (!dragged || !col) return;
    event.preventDefault();
    var card = dragged;
    if (column(card) === col) return;
    var form = moveForm(card);
    if (!form) return;
    if (col.dataset.lost === "1") {
      var reason = window.prompt("Why was this deal lost?");
      if (!reason) return;
      form.querySelector("[name=lost_reason]").value = reason;
    }
    form.querySelector("[name=stage]").value = col.dataset.stage;
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  });
})();
