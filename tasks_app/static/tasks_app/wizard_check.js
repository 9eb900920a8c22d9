// Shows /tasks/new/check's answer in the wizard: each error beside its field, the schedule in
// words with its next runs, and the plan preview (steps, the irreversible ones marked, the estimate).
import { element, labelOf } from "./wizard_fields.js";

const rootError = document.getElementById("config-root-error");
const preview = document.getElementById("plan-preview");
const WHEN = new Intl.DateTimeFormat("en-GB", {
  weekday: "short", day: "2-digit", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: "UTC",
});

function say(el, message) {
  if (!el) return;
  el.textContent = message ?? "";
  el.hidden = !message;
}

function showErrors(errors, fields) {
  const loose = [];
  const byName = new Map(fields.map((field) => [field.name, field]));
  for (const field of fields) {
    say(field.error, errors[field.name]);
    field.row.classList.toggle("has-error", Boolean(errors[field.name]));
  }
  for (const [key, message] of Object.entries(errors)) {
    if (key === "") loose.push(message);
    else if (key !== "json" && key !== "plan" && !byName.has(key)) loose.push(`${labelOf(key)}: ${message}`);
  }
  say(document.getElementById("check-error-json"), errors.json);
  say(document.getElementById("check-error-plan"), errors.plan);
  if (errors.json) loose.push(`The raw JSON: ${errors.json}`);
  say(rootError, loose.join(" "));
}

function showSchedule(schedule) {
  const info = document.getElementById("cron-info");
  if (!info) return;
  info.replaceChildren();
  if (!schedule || schedule.error) return; // an invalid one shows as the field's error
  info.append(element("p", { "data-role": "cron-description" }, schedule.description));
  const runs = element("ol", { "data-role": "next-runs", "aria-label": "Next runs" });
  for (const at of schedule.nextRuns) {
    runs.append(element("li", { "data-at": at }, `${WHEN.format(new Date(at))} UTC`));
  }
  info.append(element("p", { class: "small muted" }, "Next runs:"), runs);
}

function seconds(ms) {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.max(1, Math.round(ms / 1000))} s`;
}

function stepItem(step) {
  const item = element("li", { "data-action": step.action });
  item.append(element("code", { class: "action" }, step.action), step.description);
  if (step.when) item.append(element("span", { class: "small muted" }, ` (only if ${step.when})`));
  if (step.irreversible) {
    item.classList.add("irreversible");
    item.append(element("span", { class: "badge irreversible", title: step.why }, "irreversible"));
  }
  return item;
}

function showPreview(plan, blocked) {
  const note = preview.querySelector('[data-role="preview-note"]');
  const estimate = preview.querySelector('[data-role="estimate"]');
  const steps = preview.querySelector('[data-role="preview-steps"]');
  steps.replaceChildren();
  if (!plan) {
    say(note, blocked ? "Fix the errors above to see the plan." : "No plan to preview: the model plans this task when it runs.");
    say(estimate, "");
    return;
  }
  if (plan.planner === "model") {
    say(note, "The model plans the steps when the task runs.");
    say(estimate, "");
    return;
  }
  say(note, plan.steps.some((s) => s.irreversible)
    ? "Steps marked irreversible cannot be undone once they run." : "Every step can be undone or repeated safely.");
  say(estimate, `Estimated ${plan.estimatedCredits} credits, about ${seconds(plan.estimatedDuration)}`);
  for (const step of plan.steps) steps.append(stepItem(step));
}

export function showCheck(answer, fields, failure) {
  if (!answer || failure) {
    say(rootError, failure ?? "The check did not answer.");
    return;
  }
  showErrors(answer.errors ?? {}, fields);
  showSchedule(answer.schedule);
  const scheduleError = answer.schedule?.error;
  const cron = fields.find((field) => field.widget === "cron");
  if (scheduleError && cron && !answer.errors?.[cron.name]) {
    say(cron.error, scheduleError);
    cron.row.classList.add("has-error");
  }
  showPreview(answer.preview, Object.keys(answer.errors ?? {}).length > 0);
}
