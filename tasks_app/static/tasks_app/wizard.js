// The creation wizard: shows the configuration of the chosen agent type and fills in its
// example (the seed's) unless the person already edited it. The form posts to the server.
const form = document.getElementById("wizard");
const examples = JSON.parse(document.getElementById("wizard-examples").textContent);
const config = form.elements.agent_config;
const title = form.elements.title;
const pretty = (value) => (value == null ? "" : JSON.stringify(value, null, 2));
let shown = { config: config.value, title: title.value };

function panelFor(kind) {
  return kind === "plan" || kind === "free_form" ? kind : "typed";
}

function choose(kind, fill) {
  for (const panel of form.querySelectorAll("[data-kind-panel]")) {
    panel.hidden = panel.dataset.kindPanel !== panelFor(kind);
  }
  const example = examples[kind];
  if (!fill || !example) return;
  if (panelFor(kind) === "typed" && config.value === shown.config) config.value = pretty(example.config);
  if (title.value === shown.title) title.value = example.title;
  shown = { config: config.value, title: title.value };
}

form.addEventListener("change", (event) => {
  if (event.target.name === "kind") choose(event.target.value, true);
});
choose(form.elements.kind.value, false);
