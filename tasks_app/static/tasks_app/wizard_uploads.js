// The wizard's file pick: a select of the person's uploads (GET /api/files) and an upload control
// (POST /api/files) whose new file is picked at once.
import { option } from "./wizard_fields.js";

async function listFiles(select, named) {
  const response = await fetch("/api/files?pageSize=100", { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const page = await response.json();
  const keep = named ?? (select.value || undefined); // the file the config names, written while the list loaded
  const names = [...new Set(page.results.map((file) => file.name))]; // a name's newest version is what runs
  select.replaceChildren(option("", "(choose one of your files)"));
  for (const name of names) select.append(option(name, name));
  if (keep && !names.includes(keep)) select.append(option(keep, keep));
  select.value = keep ?? "";
}

export function bindUploads(field, csrf, onPicked) {
  const { select, picker } = field.upload;
  listFiles(select, field.previous);
  picker.addEventListener("change", async (event) => {
    event.stopPropagation(); // the file is not a config value; the pick that follows is
    const file = picker.files[0];
    if (!file) return;
    const body = new FormData();
    body.append("file", file);
    const response = await fetch("/api/files", {
      method: "POST", credentials: "same-origin", body, headers: { Accept: "application/json", "X-CSRFToken": csrf() },
    });
    const answer = await response.json().catch(() => null);
    if (!response.ok) {
      field.error.textContent = answer?.error?.message ?? `the upload answered ${response.status}`;
      field.error.hidden = false;
      return;
    }
    await listFiles(select, answer.name);
    picker.value = "";
    onPicked();
  });
  picker.addEventListener("input", (event) => event.stopPropagation());
}
