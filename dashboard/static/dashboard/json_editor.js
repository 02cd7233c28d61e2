// "Format JSON" beside a textarea: pretty-prints it, or says where it does not
// parse. The server checks again; this only saves a round trip.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.json-format");
  if (!button) return;
  const area = button.form.elements[button.dataset.for];
  const status = button.parentElement.querySelector(".json-status");
  try {
    if (area.value.trim()) area.value = JSON.stringify(JSON.parse(area.value), null, 2);
    status.textContent = "valid JSON";
    status.className = "json-status ok";
  } catch (error) {
    status.textContent = error.message;
    status.className = "json-status bad";
  }
});
