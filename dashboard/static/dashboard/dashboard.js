// The dot in the header: green while the live-update socket is open. htmx's
// websocket extension reconnects by itself (with backoff) and the server
// sends the whole page state again on every connect.
document.addEventListener("htmx:wsOpen", () => {
  document.getElementById("live")?.classList.add("on");
});
document.addEventListener("htmx:wsClose", () => {
  document.getElementById("live")?.classList.remove("on");
});

// The one confirm of the dashboard, for plain forms (hx-confirm only guards
// htmx requests): a form, or the button that submits it, carrying
// data-confirm asks first, and a dismissed question sends nothing. The
// question is read from an attribute, never written into script, so a queue
// name with quotes or "<" stays text. Bound on the document, it holds for
// forms the live updates swap in.
document.addEventListener("submit", (event) => {
  const question = event.submitter?.dataset.confirm ?? event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
