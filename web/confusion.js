// confusion.js - the confusion matrix of the selected job's model on the
// test set (GET /v1/models/{id}/confusion, see README's API section), as a
// table shaded by each true class's share. Fetched once per finished job;
// for a running or paused job on request, since its weights still change.

import { api } from "./api.js";
import { describe } from "./notice.js";
import { FINISHED, store } from "./store.js";

const cache = new Map(); // finished job id -> confusion answer
let shownFor = "";

function render(c) {
  const table = document.getElementById("confusion-table");
  table.innerHTML = "";
  const caption = document.createElement("caption");
  caption.textContent = `Test set of ${c.dataset}: ${c.samples} images, accuracy ${(100 * c.accuracy).toFixed(2)} % (model ${c.model}, step ${c.step}). Rows: true class; columns: predicted.`;
  table.append(caption);
  const head = table.createTHead().insertRow();
  const corner = document.createElement("th");
  corner.textContent = "true ↓ predicted →";
  corner.className = "corner";
  head.append(corner);
  for (const name of c.classes) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = name;
    head.append(th);
  }
  const body = table.createTBody();
  c.matrix.forEach((row, t) => {
    const tr = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = c.classes[t];
    tr.append(th);
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((n, p) => {
      const td = tr.insertCell();
      td.textContent = n;
      const share = n / total;
      td.style.setProperty("--share", share.toFixed(3));
      td.className = p === t ? "hit" : n ? "miss" : "zero";
      td.title = `${n} of ${total} images of ${c.classes[t]} predicted as ${c.classes[p]}`;
    });
  });
}

function status(text) {
  document.getElementById("confusion-status").textContent = text;
}

async function load(id, force = false) {
  const job = store.job(id);
  if (!job) return;
  const finished = FINISHED.has(job.state);
  if (!force && cache.has(id)) {
    render(cache.get(id));
    status("");
    return;
  }
  status(`Computing the confusion matrix of ${job.name} on the test set…`);
  try {
    const c = await api.confusion(id);
    if (finished) cache.set(id, c);
    if (store.selected === id) {
      render(c);
      status(finished ? "" : `Job ${job.name} is ${job.state}: this is its matrix at step ${c.step}; refresh for a newer one.`);
    }
  } catch (err) {
    if (store.selected === id) {
      document.getElementById("confusion-table").innerHTML = "";
      status(err.status === 409 ? `Job ${job.name} has no weights yet.` : `Cannot compute the confusion matrix: ${describe(err)}`);
    }
  }
}

function onChange() {
  const id = store.selected;
  const job = id && store.job(id);
  document.getElementById("confusion-refresh").hidden = !job || FINISHED.has(job.state);
  const key = job ? `${id}:${FINISHED.has(job.state)}` : "";
  const fresh = key !== shownFor;
  shownFor = key;
  if (fresh) document.getElementById("confusion-table").innerHTML = "";
  if (!job) status("Select a job to see its confusion matrix.");
  else if (job.state === "completed" || job.state === "cancelled") fresh && load(id);
  else if (job.state === "failed") status(`Job ${job.name} failed${job.error ? `: ${job.error}` : ""}.`);
  else if (fresh || !document.getElementById("confusion-table").rows.length)
    status(`Job ${job.name} is ${job.state}. Its matrix appears when it finishes; “Compute now” shows the one of its current weights.`);
}

export function startConfusion() {
  document.getElementById("confusion-refresh").addEventListener("click", () => store.selected && load(store.selected, true));
  store.subscribe(onChange);
  onChange();
}
