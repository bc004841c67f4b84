// modelview.js - the job view's model summary: the job object's `model`
// (docs/api.md, GET /v1/models/{name}) as a table, one row per layer with
// its type and settings, output shape (channels×height×width), activation
// and parameter count, the total in its caption. Drawn again only when
// the selected job or its model changes.

import { shapeText } from "./format.js";

let shownKey = "";

const count = (n) => Number(n).toLocaleString("en-US");

/* A layer's type with its settings: conv 5×5 stride 1 padding 2. */
function kind(l) {
  if (l.type === "conv") return `conv ${l.kernel}×${l.kernel}, stride ${l.stride}, padding ${l.padding}`;
  if (l.type === "maxpool") return `maxpool ${l.size}×${l.size}, stride ${l.stride}`;
  return l.type;
}

function cell(tag, text, cls = "") {
  const c = document.createElement(tag);
  c.textContent = text;
  if (cls) c.className = cls;
  return c;
}

function row(l, i, last) {
  const tr = document.createElement("tr");
  tr.dataset.type = l.type;
  tr.dataset.shape = (l.output || []).join("x");
  tr.dataset.parameters = String(l.parameters);
  tr.append(cell("th", last ? `${i + 1} (output)` : String(i + 1)), cell("td", kind(l)),
    cell("td", shapeText(l.output), "num"), cell("td", l.activation), cell("td", count(l.parameters), "num"));
  tr.firstChild.scope = "row";
  return tr;
}

function head() {
  const tr = document.createElement("tr");
  for (const [text, cls] of [["Layer", ""], ["Type", ""], ["Output", "num"], ["Activation", ""], ["Parameters", "num"]]) {
    const th = cell("th", text, cls);
    th.scope = "col";
    tr.append(th);
  }
  return tr;
}

/* Shows `job`'s model, or hides the summary for a job without one. */
export function renderModel(job) {
  const box = document.getElementById("model-summary");
  const model = job && job.model;
  const key = model ? `${job.id}:${JSON.stringify(model)}` : "";
  if (key === shownKey) return;
  shownKey = key;
  box.hidden = !model;
  if (!model) return;
  const layers = model.layers || [];
  box.dataset.parameters = String(model.parameters);
  document.getElementById("model-summary-text").textContent =
    `Model: ${layers.length} layers, ${count(model.parameters)} parameters, ${count(Math.round(model.flops_per_sample))} flops per sample`;
  const table = document.getElementById("model-table");
  table.tHead.replaceChildren(head());
  table.tBodies[0].replaceChildren(...layers.map((l, i) => row(l, i, i === layers.length - 1)));
}
