// jobs.js - the jobs table: polls GET /v1/jobs about once a second while
// the page is visible, updates its rows in place (so focus and checkboxes
// survive a poll), and offers the actions each state allows.

import { api } from "./api.js";
import { clearNotice, describe, notify } from "./notice.js";
import { select, setCompared, setJobs, store } from "./store.js";

const POLL_MS = 1000;

/* Which buttons a state enables (the contract's legal transitions). */
const ACTIONS = [
  { verb: "pause", label: "Pause", states: ["queued", "running"] },
  { verb: "resume", label: "Resume", states: ["paused"] },
  { verb: "cancel", label: "Cancel", states: ["queued", "running", "paused"] },
  { verb: "delete", label: "Delete", states: ["queued", "running", "paused", "completed", "failed", "cancelled"] },
];

const rows = new Map(); // job id -> { tr, cells }
let timer = null;

const fmt = {
  rate: (v) => (v == null ? "–" : v >= 1e4 ? `${(v / 1000).toFixed(0)}k` : v.toFixed(0)),
  loss: (v) => (v == null ? "–" : v < 0.001 ? v.toExponential(2) : v.toFixed(4)),
  pct: (v) => (v == null ? "–" : `${(100 * v).toFixed(1)} %`),
};

function cell(tr, label, className) {
  const td = document.createElement("td");
  td.dataset.label = label;
  if (className) td.className = className;
  tr.append(td);
  return td;
}

function buildRow(job) {
  const tr = document.createElement("tr");
  tr.dataset.id = job.id;
  const c = {};

  c.show = cell(tr, "Show", "col-show");
  const radio = document.createElement("input");
  radio.type = "radio";
  radio.name = "selected-job";
  radio.setAttribute("aria-label", `Show job ${job.name}`);
  radio.addEventListener("change", () => select(job.id));
  c.show.append(radio);

  c.compare = cell(tr, "Compare", "col-compare");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.setAttribute("aria-label", `Overlay job ${job.name} on the charts`);
  box.addEventListener("change", () => setCompared(job.id, box.checked));
  c.compare.append(box);

  c.name = cell(tr, "Job", "col-name");
  c.state = cell(tr, "State", "col-state");
  c.progress = cell(tr, "Progress", "col-progress");
  const bar = document.createElement("progress");
  bar.max = 1;
  const text = document.createElement("span");
  text.className = "progress-text";
  c.progress.append(bar, text);
  c.rate = cell(tr, "Samples/s", "num");
  c.loss = cell(tr, "Loss", "num");
  c.acc = cell(tr, "Test acc.", "num");
  c.actions = cell(tr, "Actions", "col-actions");
  c.buttons = {};
  for (const a of ACTIONS) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = a.label;
    b.dataset.action = a.verb;
    b.className = a.verb === "delete" ? "danger" : "";
    b.setAttribute("aria-label", `${a.label} job ${job.name}`);
    b.addEventListener("click", () => act(job.id, a.verb));
    c.actions.append(b);
    c.buttons[a.verb] = b;
  }
  tr.addEventListener("click", (ev) => {
    if (!ev.target.closest("button, input")) select(job.id);
  });
  return { tr, c, radio, box, bar, text };
}

function updateRow(r, job) {
  const { c } = r;
  r.tr.dataset.state = job.state;
  r.tr.classList.toggle("selected", store.selected === job.id);
  r.radio.checked = store.selected === job.id;
  r.box.checked = store.compared.has(job.id);
  c.name.innerHTML = "";
  const strong = document.createElement("strong");
  strong.textContent = job.name;
  c.name.append(strong);
  if (job.name !== job.id) {
    const small = document.createElement("small");
    small.textContent = job.id;
    c.name.append(small);
  }
  if (job.error) {
    const err = document.createElement("div");
    err.className = "job-error";
    err.textContent = job.error;
    c.name.append(err);
  }
  c.state.innerHTML = `<span class="badge" data-state="${job.state}"></span>`;
  c.state.firstChild.textContent = job.state;
  const p = job.progress;
  r.bar.value = p.steps ? p.step / p.steps : 0;
  r.text.textContent = `epoch ${p.epoch}/${p.epochs} · step ${p.step}/${p.steps}`;
  r.bar.setAttribute("aria-label", `Job ${job.name}: step ${p.step} of ${p.steps}`);
  c.rate.textContent = fmt.rate(job.latest.samples_per_second);
  c.loss.textContent = fmt.loss(job.latest.loss);
  c.acc.textContent = fmt.pct(job.latest.test_accuracy);
  for (const a of ACTIONS) c.buttons[a.verb].disabled = !a.states.includes(job.state);
}

function render() {
  const body = document.querySelector("#jobs-table tbody");
  const seen = new Set();
  let before = body.firstChild;
  for (const job of store.jobs) {
    seen.add(job.id);
    let r = rows.get(job.id);
    if (!r) {
      r = buildRow(job);
      rows.set(job.id, r);
    }
    if (r.tr !== before) body.insertBefore(r.tr, before);
    before = r.tr.nextSibling;
    updateRow(r, job);
  }
  for (const [id, r] of rows)
    if (!seen.has(id)) {
      r.tr.remove();
      rows.delete(id);
    }
  document.getElementById("jobs-empty").hidden = store.jobs.length > 0;
}

async function act(id, verb) {
  const r = rows.get(id);
  if (r) for (const b of Object.values(r.c.buttons)) b.disabled = true;
  try {
    if (verb === "delete") await api.deleteJob(id);
    else await api.jobAction(id, verb);
    clearNotice(`action-${id}`);
  } catch (err) {
    notify(`action-${id}`, `Could not ${verb} job ${id}: ${describe(err)}`);
  }
  await refreshJobs();
}

export async function refreshJobs() {
  try {
    const { jobs } = await api.jobs();
    clearNotice("jobs-poll");
    setJobs(jobs);
  } catch (err) {
    notify("jobs-poll", `Cannot list the jobs: ${describe(err)} Retrying every second.`);
  }
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (!document.hidden) await refreshJobs();
    schedule();
  }, POLL_MS);
}

export function startJobs() {
  store.subscribe((what) => (what === "jobs" || what === "selection") && render());
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refreshJobs();
  });
  refreshJobs();
  schedule();
}
