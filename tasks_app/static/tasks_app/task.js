// The execution view: applies the task's websocket events live (status, steps), refills a gap
// in seq from the events API, reconnects with backoff, and calls the API for the controls.
import { api, feedUrl, liveSocket, LIVE_LABELS, showProgress, showStatus } from "./api.js";

const root = document.getElementById("task");
const taskId = root.dataset.taskId;
const live = document.getElementById("task-live");
const message = root.querySelector('[data-role="message"]');
const head = root.querySelector(".task-head");
let lastSeq = Number(root.dataset.lastSeq);
let chain = Promise.resolve(); // events are applied one at a time, in order

function setStatus(status) {
  root.dataset.status = status;
  showStatus(head, status);
  for (const button of root.querySelectorAll(".controls [data-when]")) {
    button.hidden = !button.dataset.when.split(" ").includes(status);
  }
}

function setProgress(progress, currentStep, totalSteps) {
  showProgress(document.getElementById("progress"), progress);
  if (currentStep !== undefined) root.querySelector('[data-role="current-step"]').textContent = currentStep;
  if (totalSteps !== undefined) root.querySelector('[data-role="total-steps"]').textContent = totalSteps;
}

function say(text) {
  message.textContent = text;
  message.hidden = !text;
}

// --- The live part: re-rendered by the server after events (one request at a time). ----------
let refreshing = null;
let refreshAgain = false;

async function refresh() {
  if (refreshing) { refreshAgain = true; return refreshing; }
  refreshing = (async () => {
    do {
      refreshAgain = false;
      const response = await fetch(root.dataset.liveUrl, { credentials: "same-origin" });
      if (!response.ok) break;
      const open = new Set([...live.querySelectorAll("details[open]")].map((d) => d.dataset.key));
      live.innerHTML = await response.text();
      for (const details of live.querySelectorAll("details[data-key]")) details.open = open.has(details.dataset.key);
      const state = live.querySelector("[data-live]").dataset;
      if (Number(state.lastSeq) >= lastSeq) {
        setStatus(state.status);
        setProgress(Number(state.progress), state.currentStep, state.totalSteps);
      }
    } while (refreshAgain);
  })().finally(() => { refreshing = null; });
  return refreshing;
}

// --- Events: in seq order; a gap is refilled from GET /api/agent/{id}/events?after=N. ---------
function apply(event) {
  if (event.seq <= lastSeq) return;
  lastSeq = event.seq;
  if (event.type === "status") {
    setStatus(event.status);
  } else if (event.type === "step") {
    setProgress(event.progress, event.currentStep, event.totalSteps);
  }
  refresh();
}

async function receive(event) {
  if (event.seq === undefined) return; // subscribed, pong, error
  if (event.seq > lastSeq + 1) {
    const missed = await api("GET", `/api/agent/${taskId}/events?after=${lastSeq}`);
    missed.events.forEach(apply);
  }
  apply(event);
}

liveSocket({
  urlFor: () => feedUrl(`/ws/tasks/${taskId}/?after=${lastSeq}`),
  onMessage: (event) => { chain = chain.then(() => receive(event)).catch((error) => say(error.message)); },
  onState: (state) => {
    const badge = root.querySelector('[data-role="live"]');
    badge.textContent = LIVE_LABELS[state];
    badge.dataset.state = state;
  },
});

// --- Controls and approvals: the API; the resulting events update the page. -------------------
const CONTROL_PATHS = {
  execute: () => [`/api/agent/execute/${taskId}`, { async: true }],
  pause: () => [`/api/agent/${taskId}/pause`],
  resume: () => [`/api/agent/${taskId}/resume`],
  cancel: () => [`/api/agent/${taskId}/cancel`],
  replay: () => [`/api/agent/${taskId}/replay`, { fromStep: 1 }],
  rollback: (approve) => [`/api/agent/${taskId}/rollback`, { dryRun: false, approve }],
};

// Roll back: show each compensation's full input and what cannot be undone (a dry run); on
// confirmation undo, approving the compensations a policy gates that the person just read.
// Resolves to the ids approved, or null when the person declined.
async function confirmRollback() {
  const plan = await api("POST", `/api/agent/${taskId}/rollback`, { dryRun: true });
  const call = (c) => `${c.undo} ${JSON.stringify(c.params)}`;
  const gated = plan.compensations.filter((c) => c.status === "needsApproval");
  const lines = [
    ...plan.compensations.filter((c) => c.status === "wouldUndo").map((c) => `undo step ${c.step} (${c.action}): ${call(c)}`),
    ...gated.map((c) => `NEEDS YOUR APPROVAL (${c.approval.reason}), undo step ${c.step} (${c.action}): ${call(c)}`),
    ...plan.compensations.filter((c) => c.status === "refused").map((c) => `step ${c.step}: ${c.reason}`),
    ...plan.cannotBeUndone.map((w) => `cannot be undone, step ${w.step}: ${w.reason}`),
    ...plan.notUndoableAutomatically.map((w) => `undo by hand, step ${w.step}: ${w.reason}`),
  ];
  const approving = gated.length ? `\n\nOK approves the ${gated.length} marked for approval and runs them.` : "";
  if (!confirm(`Roll back the last run? ${plan.summary}.\n\n${lines.join("\n")}${approving}`)) return null;
  return gated.map((c) => c.id);
}

root.addEventListener("click", async (click) => {
  const button = click.target.closest("button[data-action], button[data-decide]");
  if (!button) return;
  button.disabled = true;
  say("");
  try {
    if (button.dataset.action) {
      const action = button.dataset.action;
      if (action === "cancel" && !confirm("Cancel this task? A step in flight finishes first.")) return;
      const approve = action === "rollback" ? await confirmRollback() : undefined;
      if (approve === null) return;
      const [path, body] = CONTROL_PATHS[action](approve);
      const answer = await api("POST", path, body);
      if (action === "replay") { location.assign(`/tasks/${answer.id}/`); return; }
      if (action === "rollback") say(`Rolled back: ${answer.summary}.`);
      if (answer.status) setStatus(answer.status);
    } else {
      const item = button.closest("[data-approval-id]");
      const body = { approve: button.dataset.decide === "approve" };
      if (button.dataset.done) body.done = button.dataset.done === "true";
      const reason = item.querySelector("input[name=reason]");
      if (!body.approve && reason && reason.value) body.reason = reason.value;
      await api("POST", `/api/approvals/${item.dataset.approvalId}/decide`, body);
    }
    await refresh();
  } catch (error) {
    say(error.message);
  } finally {
    button.disabled = false;
  }
});
