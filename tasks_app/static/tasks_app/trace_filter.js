// The trace viewer's filter: show only the failed steps. A class on the task page's root, so it
// holds while the live part is re-rendered after each event.
const root = document.getElementById("task");
const box = root && root.querySelector('[data-role="failed-only"]');
if (box) {
  box.addEventListener("change", () => root.classList.toggle("only-failed", box.checked));
  root.classList.toggle("only-failed", box.checked);
}
