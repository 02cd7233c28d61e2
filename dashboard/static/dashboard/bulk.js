// Bulk selection: the checkboxes sit in the job list, which live updates
// replace; the selection is kept across those swaps (by job id) and the
// "select all" box and the buttons follow it. (Remove asks first through its
// data-confirm, in dashboard.js.)
(() => {
  const picked = new Set();
  const boxes = () => document.querySelectorAll('input.pick[form="bulk-form"]');

  function sync() {
    const form = document.getElementById("bulk-form");
    if (!form) return;
    let shown = 0;
    let checked = 0;
    boxes().forEach((box) => {
      box.checked = picked.has(box.value);
      shown += 1;
      if (box.checked) checked += 1;
    });
    // a job that left the list (retried, removed) is no longer selectable
    const present = new Set([...boxes()].map((box) => box.value));
    [...picked].forEach((id) => { if (!present.has(id)) picked.delete(id); });
    const all = document.querySelector("input.pick-all");
    if (all) all.checked = shown > 0 && checked === shown;
    form.querySelector(".bulk-count").textContent = `${picked.size} selected`;
    form.querySelectorAll("button").forEach((b) => { b.disabled = picked.size === 0; });
  }

  document.addEventListener("change", (event) => {
    const box = event.target;
    if (box.matches('input.pick[form="bulk-form"]')) {
      if (box.checked) picked.add(box.value); else picked.delete(box.value);
    } else if (box.matches("input.pick-all")) {
      boxes().forEach((b) => { if (box.checked) picked.add(b.value); else picked.delete(b.value); });
    } else {
      return;
    }
    sync();
  });
  document.addEventListener("htmx:wsAfterMessage", sync);
  document.addEventListener("DOMContentLoaded", sync);
})();
