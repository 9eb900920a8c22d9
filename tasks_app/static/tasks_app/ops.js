// The operations dashboard: its live part (readiness, metrics, charts, tables, workers) is reloaded
// from the server every few seconds; the charts are SVG rendered there, so nothing is drawn here.
const REFRESH_MS = 5000;
const box = document.getElementById("ops-live");

async function refresh() {
  try {
    const response = await fetch(box.dataset.liveUrl, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (response.ok) {
      box.innerHTML = await response.text();
      box.dataset.refreshedAt = String(Date.now());
    }
  } catch (error) {
    // offline for a moment: the next tick tries again
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

if (box) setTimeout(refresh, REFRESH_MS);
