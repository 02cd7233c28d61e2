// The dot in the header: green while the live-update socket is open. htmx's
// websocket extension reconnects by itself (with backoff) and the server
// sends the whole page state again on every connect.
document.addEventListener("htmx:wsOpen", () => {
  document.getElementById("live")?.classList.add("on");
});
document.addEventListener("htmx:wsClose", () => {
  document.getElementById("live")?.classList.remove("on");
});
