/* Sales board: drag a card onto another column to move the deal.
   Progressive: every card also has a "Move" form that works with the keyboard and
   without JavaScript; dropping simply submits that same form through htmx. */
(function () {
  "use strict";
  var dragged = null;

  function column(el) { return el && el.closest ? el.closest(".board-col") : null; }

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
    var form = card.querySelector(".deal-move form");
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
