// The creation wizard: the chosen agent type's configuration as form fields (built from the schema
// the server validates with), kept in step with the raw JSON (the "Advanced" textarea, which is what
// the form posts). As the person types, the draft goes to /tasks/new/check: its errors land beside
// their field, the schedule is described with its next runs, and the plan is previewed.
import { buildFields } from "./wizard_fields.js";
import { showCheck } from "./wizard_check.js";
import { bindUploads } from "./wizard_uploads.js";

const form = document.getElementById("wizard");
const examples = JSON.parse(document.getElementById("wizard-examples").textContent);
const schemas = JSON.parse(document.getElementById("wizard-schemas").textContent);
const config = form.elements.agent_config;
const title = form.elements.title;
const box = document.getElementById("config-fields");
const pretty = (value) => (value == null ? "" : JSON.stringify(value, null, 2));
const csrf = () => form.elements.csrfmiddlewaretoken.value;
const CHECK_DELAY_MS = 300;
let shown = { title: title.value };
let current = form.elements.kind.value;
const drafts = {}; // kind -> its config text, kept while the person looks at another type
let fields = [];
let sequence = 0;
let timer = null;

function panelFor(kind) {
  return kind === "plan" || kind === "free_form" ? kind : "typed";
}

function parsed(text) {
  try {
    const value = text.trim() ? JSON.parse(text) : {};
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** The fields -> the raw JSON (keys the fields do not know, e.g. "planning", are kept). */
function fieldsToRaw() {
  const value = parsed(config.value) ?? {};
  for (const field of fields) {
    let read;
    try {
      read = field.read();
    } catch (error) {
      field.error.textContent = error.message;
      field.error.hidden = false;
      return false;
    }
    if (read === undefined) delete value[field.name];
    else value[field.name] = read;
  }
  config.value = Object.keys(value).length ? pretty(value) : "";
  return true;
}

/** The raw JSON -> the fields (when it parses). */
function rawToFields() {
  const value = parsed(config.value);
  if (value === null) return;
  for (const field of fields) field.write(value[field.name]);
}

function buildFor(kind) {
  box.replaceChildren();
  fields = schemas[kind] ? buildFields(schemas[kind], Object.keys(examples[kind]?.config ?? {})) : [];
  for (const field of fields) {
    box.append(field.row);
    if (field.upload) bindUploads(field, csrf, () => changed());
  }
  rawToFields();
}

function choose(kind, fill) {
  for (const panel of form.querySelectorAll("[data-kind-panel]")) {
    panel.hidden = panel.dataset.kindPanel !== panelFor(kind);
  }
  const example = examples[kind];
  if (fill && example) {
    // each type keeps its own draft: switching away and back loses nothing, and never mixes configs
    if (panelFor(current) === "typed") drafts[current] = config.value;
    if (panelFor(kind) === "typed") config.value = drafts[kind] ?? pretty(example.config);
    if (title.value === shown.title) title.value = example.title;
    shown = { title: title.value };
  }
  current = kind;
  buildFor(kind);
  scheduleCheck();
}

async function check() {
  const mine = ++sequence;
  const kind = form.elements.kind.value;
  const body = { kind, config: config.value, plan: form.elements.plan.value, title: title.value };
  try {
    const response = await fetch(form.dataset.checkUrl, {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf() },
    });
    const answer = await response.json();
    if (mine === sequence) showCheck(answer, fields, response.ok ? null : answer?.error?.message);
  } catch (error) {
    if (mine === sequence) showCheck(null, fields, `The check did not answer: ${error.message}`);
  }
}

function scheduleCheck() {
  clearTimeout(timer);
  timer = setTimeout(check, CHECK_DELAY_MS);
}

function changed() {
  if (fieldsToRaw()) scheduleCheck();
}

box.addEventListener("input", changed);
box.addEventListener("change", changed);
config.addEventListener("input", () => {
  rawToFields();
  scheduleCheck();
});
title.addEventListener("input", scheduleCheck);
form.elements.plan.addEventListener("input", scheduleCheck);
form.addEventListener("change", (event) => {
  if (event.target.name === "kind") choose(event.target.value, true);
});
choose(form.elements.kind.value, false);
