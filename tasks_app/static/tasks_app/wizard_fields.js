// The wizard's config fields, built from an agent type's JSON schema (the one the server validates
// with): strings, numbers, booleans, enums as selects, lists one per line, a cron field, a file pick.
// Each field reads to a JSON value (undefined: leave the key out) and writes one back.

const LABELS = { urls: "URLs", url: "URL", sql: "SQL", from: "From address", ourPrice: "Our price" };
const LONG_TEXT = 1000; // strings allowed longer than this get a textarea (a transform, a query)

export function labelOf(name) {
  if (LABELS[name]) return LABELS[name];
  const words = name.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/_/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function resolve(schema, prop) {
  const ref = prop?.$ref?.split("/").pop();
  return ref ? schema.$defs?.[ref] ?? {} : prop ?? {};
}

function unwrap(schema, prop) {
  const kinds = (prop.anyOf ?? []).filter((p) => p.type !== "null");
  if (prop.anyOf && kinds.length === 1) return { ...prop, ...resolve(schema, kinds[0]), nullable: true };
  return { ...prop, ...resolve(schema, prop) };
}

function widgetOf(schema, prop) {
  if (prop["x-widget"]) return prop["x-widget"];
  if (prop.enum) return "select";
  if (prop.type === "boolean") return prop.nullable ? "tristate" : "checkbox";
  if (prop.type === "integer" || prop.type === "number") return "number";
  if (prop.type === "array") {
    const items = unwrap(schema, prop.items ?? {});
    if (items.enum) return "choices";
    if (items.type === "string") return "lines";
    if (items.type === "object" && items.required?.join() === "email") return "emails";
    return "json";
  }
  if (prop.type === "string") return (prop.maxLength ?? 0) > LONG_TEXT ? "text" : "string";
  return "json";
}

function element(tag, attrs = {}, text = "") {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  if (text) el.textContent = text;
  return el;
}

function option(value, label) {
  const el = element("option", { value }, label);
  return el;
}

function control(widget, prop, id) {
  if (widget === "select" || widget === "tristate") {
    const select = element("select", { id });
    const fallback = prop.default != null ? `(default: ${prop.default})` : "(not set)";
    select.append(option("", widget === "tristate" ? "(default)" : fallback));
    for (const value of widget === "tristate" ? ["true", "false"] : prop.enum) {
      select.append(option(String(value), widget === "tristate" ? (value === "true" ? "yes" : "no") : String(value)));
    }
    return select;
  }
  if (widget === "checkbox") return element("input", { id, type: "checkbox" });
  if (["lines", "emails", "json", "text"].includes(widget)) {
    return element("textarea", { id, rows: widget === "text" || widget === "json" ? "5" : "3", spellcheck: "false" });
  }
  const attrs = { id, type: "text", autocomplete: "off" };
  if (widget === "number") attrs.inputmode = "decimal";
  if (widget === "cron") attrs.placeholder = "0 9 * * *";
  return element("input", attrs);
}

function choicesControl(schema, prop, id) {
  const box = element("div", { class: "choices", id, role: "group" });
  for (const value of unwrap(schema, prop.items).enum) {
    const label = element("label");
    label.append(element("input", { type: "checkbox", value }), ` ${value}`);
    box.append(label);
  }
  return box;
}

function uploadControl(id) {
  const box = element("div", { class: "upload-pick" });
  const select = element("select", { id });
  select.append(option("", "(choose one of your files)"));
  const picker = element("input", { type: "file", id: `${id}-file`, "aria-label": "Upload a file" });
  box.append(select, picker);
  return { box, select, picker };
}

/** One field: its row in the page, and read()/write() between the inputs and the JSON value. */
function buildField(schema, name, raw, required) {
  const prop = unwrap(schema, raw);
  const widget = widgetOf(schema, prop);
  const id = `cfg-${name}`;
  const row = element("div", { class: "field", id: `cfg-field-${name}`, "data-widget": widget });
  const label = element("label", { for: id }, labelOf(name) + (required ? " *" : ""));
  const hint = widget === "lines" || widget === "emails" ? "One per line. " : "";
  const help = element("p", { class: "help small muted" }, hint + (prop.description ?? ""));
  let input;
  let upload = null;
  if (widget === "choices") input = choicesControl(schema, prop, id);
  else if (widget === "upload") {
    upload = uploadControl(id);
    input = upload.select;
  } else input = control(widget, prop, id);
  if (widget === "checkbox") {
    row.classList.add("check");
    row.append(input, label);
  } else row.append(label, help.textContent ? help : "", upload ? upload.box : input);
  if (["text", "json", "lines", "emails", "choices"].includes(widget)) row.classList.add("wide");
  const error = element("p", { class: "errorlist live-error", id: `cfg-error-${name}`, role: "alert" });
  error.hidden = true;
  row.append(error);
  if (widget === "cron") row.append(element("div", { class: "cron-info", id: "cron-info", "aria-live": "polite" }));
  const field = { name, widget, prop, row, input, error, upload, previous: undefined };
  field.read = () => readField(field);
  field.write = (value) => writeField(field, value);
  return field;
}

function readField({ widget, input, prop, previous }) {
  const text = input.value?.trim?.() ?? "";
  switch (widget) {
    case "checkbox": return input.checked === (prop.default ?? false) ? undefined : input.checked;
    case "tristate": return text === "" ? undefined : text === "true";
    case "number": return text === "" ? undefined : Number.isFinite(Number(text)) ? Number(text) : text;
    case "choices": {
      const picked = [...input.querySelectorAll("input:checked")].map((box) => box.value);
      return picked.length ? picked : prop.minItems ? [] : undefined; // none of a must-pick: the server says so
    }
    case "lines": case "emails": {
      const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
      if (!lines.length) return undefined;
      if (widget === "lines") return lines;
      const known = new Map((Array.isArray(previous) ? previous : []).map((r) => [r?.email, r]));
      return lines.map((email) => ({ ...(known.get(email) ?? {}), email })); // keeps a recipient's other fields
    }
    case "json": {
      if (text === "") return undefined;
      try { return JSON.parse(text); } catch { throw new Error("not valid JSON"); }
    }
    default: return text === "" ? undefined : input.value;
  }
}

function writeField(field, value) {
  const { widget, input, prop } = field;
  field.previous = value;
  switch (widget) {
    case "checkbox": input.checked = value ?? prop.default ?? false; break;
    case "tristate": input.value = value === true ? "true" : value === false ? "false" : ""; break;
    case "choices":
      for (const box of input.querySelectorAll("input")) box.checked = Array.isArray(value) && value.includes(box.value);
      break;
    case "lines": input.value = Array.isArray(value) ? value.join("\n") : value == null ? "" : String(value); break;
    case "emails":
      input.value = Array.isArray(value) ? value.map((r) => (typeof r === "object" ? r?.email ?? "" : r)).join("\n") : "";
      break;
    case "json": input.value = value === undefined || value === null ? "" : JSON.stringify(value, null, 2); break;
    default:
      if (widget === "upload" && value && ![...input.options].some((o) => o.value === value)) input.append(option(value, value));
      input.value = value == null ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  }
}

/** The fields of one schema: those of the type's example first (in its order), then required ones, then the rest. */
export function buildFields(schema, first = []) {
  const required = new Set(schema.required ?? []);
  const names = Object.keys(schema.properties ?? {});
  const rank = (name) => (first.includes(name) ? first.indexOf(name) : required.has(name) ? 100 : 200);
  names.sort((a, b) => rank(a) - rank(b));
  return names.map((name) => buildField(schema, name, schema.properties[name], required.has(name)));
}

export { element, option };
