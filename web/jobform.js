// jobform.js - the new-job form, built from one table of the API's job
// options. Each field shows the server's default until the user changes
// it, and only changed fields are sent, so an untouched field always gets
// the server's own default. The server is the one validator: a 400 names
// the field at fault and its message is shown beside that field.

import { api } from "./api.js";
import { clearNotice, describe, notify } from "./notice.js";
import { select, store } from "./store.js";

/*
 * The options of POST /v1/jobs with their defaults (README, "Job options and
 * defaults"). The API has no route that lists them, so they are written
 * here; the browser test holds them to the effective configuration the
 * server echoes back. `auto` defaults depend on other fields.
 */
const FIELDS = [
  { name: "name", label: "Name", type: "text", def: "", help: "A label for people; empty: the job id." },
  { name: "dataset", label: "Data set", type: "select", def: "digits", options: [] },
  { name: "hidden", label: "Hidden layers", type: "list", def: "256", help: 'Units per layer: "256" or "128,64"; empty for none.' },
  { name: "activation", label: "Activation", type: "select", def: "relu", options: ["relu", "sigmoid", "tanh"] },
  { name: "output", label: "Output", type: "select", def: "softmax", options: ["softmax", "sigmoid"], auto: (v, dirty) => (dirty.loss ? (v.loss === "mse" ? "sigmoid" : "softmax") : "softmax") },
  { name: "loss", label: "Loss", type: "select", def: "cross_entropy", options: ["cross_entropy", "mse"], auto: (v, dirty) => (dirty.output ? (v.output === "sigmoid" ? "mse" : "cross_entropy") : "cross_entropy") },
  { name: "optimizer", label: "Optimizer", type: "select", def: "sgd", options: ["sgd", "momentum", "adam"] },
  { name: "learning_rate", label: "Learning rate", type: "number", def: "0.1", auto: (v) => ({ sgd: "0.1", momentum: "0.01", adam: "0.001" })[v.optimizer] || "0.1", help: "Default depends on the optimizer." },
  { name: "momentum", label: "Momentum", type: "number", def: "0.9" },
  { name: "l2", label: "L2", type: "number", def: "0.0005" },
  { name: "batch_size", label: "Batch size", type: "integer", def: "64" },
  { name: "epochs", label: "Epochs", type: "integer", def: "30" },
  { name: "workers", label: "Workers", type: "integer", def: "1", auto: () => String(store.serverWorkers || 1), help: "Threads sharing each minibatch." },
  { name: "seed", label: "Seed", type: "integer", def: "1" },
  { name: "init", label: "Init", type: "select", def: "auto", options: ["auto", "xavier", "he", "uniform"] },
  { name: "augment", label: "Augment", type: "select", def: "shift", options: ["none", "shift"] },
  { name: "lr_schedule", label: "LR schedule", type: "select", def: "constant", options: ["constant", "cosine"], help: "cosine decays the rate to 0 over the run." },
];

let form;
const inputs = {}; // name -> element
const dirty = {}; // name -> the user changed it

function values() {
  const v = {};
  for (const f of FIELDS) v[f.name] = inputs[f.name].value;
  return v;
}

/* Puts every untouched field at its (possibly dependent) default. */
function refreshDefaults() {
  const v = values();
  for (const f of FIELDS) {
    if (dirty[f.name]) continue;
    const def = f.auto ? f.auto(v, dirty) : f.def;
    inputs[f.name].value = def;
    v[f.name] = def;
  }
}

function fieldError(name) {
  return document.getElementById(`err-${name}`);
}

function clearErrors() {
  for (const f of FIELDS) {
    fieldError(f.name).textContent = "";
    inputs[f.name].removeAttribute("aria-invalid");
  }
  document.getElementById("form-error").textContent = "";
}

function build() {
  const grid = form.querySelector(".fields");
  for (const f of FIELDS) {
    const wrap = document.createElement("div");
    wrap.className = `field field-${f.name}`;
    const label = document.createElement("label");
    label.htmlFor = `f-${f.name}`;
    label.textContent = f.label;
    let input;
    if (f.type === "select") {
      input = document.createElement("select");
      for (const o of f.options) input.append(new Option(o, o));
    } else {
      input = document.createElement("input");
      input.type = "text";
      if (f.type === "number") input.inputMode = "decimal";
      if (f.type === "integer") input.inputMode = "numeric";
      input.autocomplete = "off";
      input.spellcheck = false;
    }
    input.id = `f-${f.name}`;
    input.name = f.name;
    const err = document.createElement("p");
    err.className = "field-error";
    err.id = `err-${f.name}`;
    err.setAttribute("aria-live", "polite");
    input.setAttribute("aria-describedby", err.id + (f.help ? ` help-${f.name}` : ""));
    wrap.append(label, input);
    if (f.help) {
      const help = document.createElement("p");
      help.className = "help";
      help.id = `help-${f.name}`;
      help.textContent = f.help;
      wrap.append(help);
    }
    wrap.append(err);
    grid.append(wrap);
    inputs[f.name] = input;
    const onEdit = () => {
      dirty[f.name] = true;
      wrap.classList.add("changed");
      fieldError(f.name).textContent = "";
      input.removeAttribute("aria-invalid");
      refreshDefaults();
    };
    input.addEventListener("input", onEdit);
    input.addEventListener("change", onEdit);
  }
}

/* A number from text, or the text itself so the server names what is wrong. */
function number(text) {
  const t = text.trim();
  return t !== "" && Number.isFinite(Number(t)) ? Number(t) : t;
}

/* The request body: the changed fields only. */
export function body() {
  const out = {};
  for (const f of FIELDS) {
    if (!dirty[f.name]) continue;
    const raw = inputs[f.name].value;
    if (f.type === "list") out[f.name] = raw.trim() === "" ? [] : raw.split(",").map(number);
    else if (f.type === "number" || f.type === "integer") out[f.name] = number(raw);
    else out[f.name] = raw;
  }
  return out;
}

function showServerError(err) {
  const root = (err.field || "").replace(/\[.*$/, "");
  if (inputs[root]) {
    fieldError(root).textContent = err.message;
    inputs[root].setAttribute("aria-invalid", "true");
    inputs[root].focus();
  } else {
    document.getElementById("form-error").textContent = describe(err);
  }
}

async function submit(ev) {
  ev.preventDefault();
  clearErrors();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const job = await api.createJob(body());
    clearNotice("create");
    notify("create", `Created job ${job.name} (${job.id}).`, "info");
    setTimeout(() => clearNotice("create"), 4000);
    select(job.id);
    form.dispatchEvent(new CustomEvent("job-created", { detail: job, bubbles: true }));
  } catch (err) {
    if (err.status === 400 && err.field) showServerError(err);
    else {
      document.getElementById("form-error").textContent = describe(err);
      if (err.status === 0) notify("create", describe(err));
    }
  } finally {
    button.disabled = false;
  }
}

function reset() {
  for (const f of FIELDS) {
    dirty[f.name] = false;
    inputs[f.name].closest(".field").classList.remove("changed");
  }
  clearErrors();
  refreshDefaults();
}

async function loadDatasets() {
  const select = inputs.dataset;
  try {
    const { datasets } = await api.datasets();
    select.innerHTML = "";
    for (const d of datasets) {
      const label = d.available === false ? `${d.name} (unavailable)` : `${d.name} (${d.train} train / ${d.test} test)`;
      const o = new Option(label, d.name);
      o.disabled = d.available === false;
      if (d.error) o.title = d.error;
      select.append(o);
    }
    refreshDefaults();
  } catch (err) {
    select.innerHTML = "";
    select.append(new Option("digits", "digits"));
    fieldError("dataset").textContent = `Cannot list the data sets: ${describe(err)}`;
  }
}

export async function startJobForm() {
  form = document.getElementById("job-form");
  // On a phone the form starts folded, so the jobs and curves come first.
  if (window.matchMedia("(max-width: 640px)").matches) document.getElementById("form-details").open = false;
  build();
  refreshDefaults();
  form.addEventListener("submit", submit);
  form.querySelector("#form-reset").addEventListener("click", reset);
  try {
    const h = await api.health();
    store.serverWorkers = h.workers;
    document.getElementById("server-version").textContent = `traind ${h.version} · ${h.workers} workers`;
  } catch (err) {
    notify("health", `Cannot reach the server: ${describe(err)}`);
  }
  await loadDatasets();
  refreshDefaults();
}
