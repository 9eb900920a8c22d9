// Shared helpers of the pages: the API over the session (CSRF token from the page) and the feed URL.

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

/** Call the JSON API with the session cookie; resolves to the body, rejects with the API's error message. */
export async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const message = data?.error?.message ?? `${method} ${path} answered ${response.status}`;
    throw Object.assign(new Error(message), { status: response.status, data });
  }
  return data;
}

export function feedUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

/**
 * A websocket that reconnects with exponential backoff (and jitter) until closed for good.
 * urlFor() builds the URL each time (so it can carry ?after=<last seq>); onMessage gets parsed JSON.
 */
export function liveSocket({ urlFor, onMessage, onState }) {
  let attempt = 0;
  let socket = null;
  let stopped = false;
  const connect = () => {
    onState("connecting");
    socket = new WebSocket(urlFor());
    socket.onopen = () => { attempt = 0; onState("live"); };
    socket.onmessage = (message) => onMessage(JSON.parse(message.data));
    socket.onclose = (event) => {
      if (stopped) return;
      if (event.code === 4401 || event.code === 4403) { onState("denied"); return; }
      const delay = Math.min(30000, 500 * 2 ** attempt) * (0.75 + Math.random() / 2);
      attempt += 1;
      onState("reconnecting");
      setTimeout(connect, delay);
    };
  };
  connect();
  return { close() { stopped = true; socket?.close(); } };
}

export const LIVE_LABELS = {
  connecting: "connecting…", live: "● live", reconnecting: "reconnecting…", denied: "not allowed: log in again",
};

/** Update every [data-role=status] badge inside root to `status`. */
export function showStatus(root, status) {
  for (const badge of root.querySelectorAll('[data-role="status"]')) {
    badge.className = `badge status-${status}`;
    badge.textContent = status.replaceAll("_", " ");
  }
}

export function showProgress(root, progress) {
  for (const bar of root.querySelectorAll('[data-role="progress"]')) {
    bar.setAttribute("aria-valuenow", String(progress));
    paintBar(bar);
  }
  for (const text of root.querySelectorAll('[data-role="progress-text"]')) text.textContent = `${progress}%`;
}

// A bar's width is set here from aria-valuenow, never by a style attribute in the page: the
// Content-Security-Policy allows no inline styles.
function paintBar(bar) {
  const value = Math.max(0, Math.min(100, Number(bar.getAttribute("aria-valuenow")) || 0));
  bar.firstElementChild.style.width = `${value}%`;
}

for (const bar of document.querySelectorAll('[data-role="progress"]')) paintBar(bar);
