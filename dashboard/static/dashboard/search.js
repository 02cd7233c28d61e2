// The search socket opens and closes with each search: keep its events from
// the header's live dot, which shows the page's own live-update socket.
document.getElementById("search")?.addEventListener("htmx:wsOpen", (e) => e.stopPropagation());
document.getElementById("search")?.addEventListener("htmx:wsClose", (e) => e.stopPropagation());
