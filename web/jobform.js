// jobform.js - the new-job form, built from GET /v1/job-options: one field
// per option the server lists, with its label, its help as a tooltip, its
// range and default rule beside it, and a select for every option with a
// list of values. web/ holds no option, default, range or rule of its
// own. Each field shows the server's default until the user changes it (a
// default another option picks follows that option's field), and only
// changed fields are sent, so an untouched field always gets the server's
// own default. The server is the one validator: a 400 names the field at
// fault and its message is shown beside that field. The `layers` option
// is the layer editor (layereditor.js), placed with `hidden`, its
// alternative: a choice between the two says which one is sent. With the
// layer list chosen, every edit has the server check the body a submit
// would send (POST /v1/jobs:validate, jobcheck.js): its answer gives the
// editor its shapes and parameters, and its 400 marks the row or field it
// names, as a submit's would.

import { api } from "./api.js";
import { createJobCheck } from "./jobcheck.js";
import { createLayerEditor } from "./layereditor.js";
import { clearNotice, describe, notify } from "./notice.js";
import { select, store } from "./store.js";

let form;
let OPTIONS = []; // GET /v1/job-options, in the server's order
let FIELDS = []; // the options with a field of their own: all but the layer list
let editor = null; // the layer editor, for the option of type "layers"
const inputs = {}; // name -> element
const dirty = {}; // name -> the user changed it
let check = null; // the live check of the body (jobcheck.js)
let unanswered = false; // the live check met no server, and said so

/* A value as the form writes it: lists as "128,64", null as "". */
function shown(v) {
  if (v === null || v === undefined) return "";
  return Array.isArray(v) ? v.join(",") : String(v);
}

/* Puts every untouched field at its default. A default another option
 * picks ("default_by") follows that option as the form shows it, the user's
 * value or its own default, as the server does for a job without the field. */
function refreshDefaults() {
  const base = {};
  for (const o of FIELDS) base[o.name] = dirty[o.name] ? inputs[o.name].value : shown(o.default);
  for (const o of FIELDS) {
    if (dirty[o.name]) continue;
    const by = o.default_by;
    const picked = by && Object.hasOwn(by.values, base[by.option]) ? by.values[base[by.option]] : o.default;
    inputs[o.name].value = shown(picked);
  }
  if (editor) editor.refresh();
}

/* What the layer editor shows of the form as it is now. */
function context() {
  return { activation: inputs.activation ? inputs.activation.value : "" };
}

/* Has the server check the form again, while the layer list is chosen. */
function recheck() {
  if (editor && editor.mode() === "layers") check.schedule();
}

function fieldError(name) {
  return document.getElementById(`err-${name}`);
}

function clearErrors() {
  if (editor) editor.clearErrors();
  for (const o of FIELDS) {
    fieldError(o.name).textContent = "";
    inputs[o.name].removeAttribute("aria-invalid");
  }
  document.getElementById("form-error").textContent = "";
}

/* What the server allows, in a few words, from the option's description. */
function hint(o) {
  const parts = [];
  if (o.type === "integer" || o.type === "number") {
    parts.push(o.min_exclusive ? `> ${o.min}, ≤ ${o.max}` : `${o.min}–${o.max}`);
  } else if (o.type === "array") {
    parts.push(`up to ${o.max_items} of ${o.items.min}–${o.items.max}`);
  } else if (o.type === "string" && !o.values) {
    parts.push(`up to ${o.max_length} characters`);
  }
  if (o.default_rule) parts.push(`default: ${o.default_rule}`);
  return parts.join("; ");
}

function makeInput(o) {
  let input;
  if (o.values) {
    input = document.createElement("select");
    for (const v of o.values) input.append(new Option(v, v));
  } else {
    input = document.createElement("input");
    input.type = "text";
    if (o.type === "number") input.inputMode = "decimal";
    if (o.type === "integer") input.inputMode = "numeric";
    if (o.default === null && o.default_rule) input.placeholder = o.default_rule;
    input.autocomplete = "off";
    input.spellcheck = false;
  }
  input.id = `f-${o.name}`;
  input.name = o.name;
  input.dataset.option = o.name;
  input.dataset.type = o.type;
  input.title = o.help;
  return input;
}

/* The layer editor, with its choice beside `hidden` (its alternative). */
function buildLayers(o, grid) {
  const act = OPTIONS.find((x) => x.name === "activation");
  const hidden = inputs.hidden && inputs.hidden.closest(".field");
  editor = createLayerEditor({
    option: o,
    activations: act && act.values ? act.values : [],
    context,
    onMode: (mode) => {
      if (hidden) hidden.hidden = mode === "layers";
      if (mode === "layers") return recheck();
      check.cancel();
      clearErrors();
    },
    onChange: recheck,
  });
  if (hidden) {
    hidden.before(editor.toggle);
    hidden.after(editor.element);
  } else grid.append(editor.toggle, editor.element);
}

function build() {
  const grid = form.querySelector(".fields");
  grid.replaceChildren();
  FIELDS = OPTIONS.filter((o) => o.type !== "layers");
  for (const o of FIELDS) {
    const wrap = document.createElement("div");
    wrap.className = `field field-${o.name}`;
    if (o.type === "array" || o.type === "string") wrap.classList.add("field-wide");
    const label = document.createElement("label");
    label.htmlFor = `f-${o.name}`;
    label.textContent = o.label;
    label.title = o.help;
    const input = makeInput(o);
    const err = document.createElement("p");
    err.className = "field-error";
    err.id = `err-${o.name}`;
    err.setAttribute("aria-live", "polite");
    const help = document.createElement("p");
    help.className = "help";
    help.id = `help-${o.name}`;
    help.textContent = hint(o);
    input.setAttribute("aria-describedby", `${err.id} ${help.id}`);
    wrap.append(label, input, help, err);
    grid.append(wrap);
    inputs[o.name] = input;
    const onEdit = () => {
      dirty[o.name] = true;
      wrap.classList.add("changed");
      fieldError(o.name).textContent = "";
      input.removeAttribute("aria-invalid");
      refreshDefaults();
    };
    // A select fires both; a text field's change (on leaving it) adds nothing to check.
    input.addEventListener("input", () => {
      onEdit();
      recheck();
    });
    input.addEventListener("change", onEdit);
  }
  const layers = OPTIONS.find((o) => o.type === "layers");
  if (layers) buildLayers(layers, grid);
}

/* A number from text, or the text itself so the server names what is wrong. */
function number(text) {
  const t = text.trim();
  return t !== "" && Number.isFinite(Number(t)) ? Number(t) : t;
}

/* The request body: the changed fields only; with the layer list chosen,
 * its rows as `layers` and no `hidden`. */
export function body() {
  const out = {};
  for (const o of FIELDS) {
    if (!dirty[o.name]) continue;
    const raw = inputs[o.name].value;
    if (o.type === "array") out[o.name] = raw.trim() === "" ? [] : raw.split(",").map(number);
    else if (o.type === "number" || o.type === "integer") out[o.name] = number(raw);
    else out[o.name] = raw;
  }
  if (editor && editor.mode() === "layers") {
    delete out.hidden;
    out[editor.element.dataset.option] = editor.rows();
  }
  return out;
}

/* A 400 beside the row or field it names. live: the check's, which
 * shows the server's sentence alone and leaves the focus where it is. */
function showServerError(err, live = false) {
  const message = live ? err.said : err.message;
  const root = (err.field || "").replace(/\[.*$/, "");
  const inList = editor && root === editor.element.dataset.option;
  if (editor) editor.showRefusal(inList ? err.field : "", message);
  if (inList) {
    if (!live) editor.focusProblem();
  } else if (inputs[root]) {
    fieldError(root).textContent = message;
    inputs[root].setAttribute("aria-invalid", "true");
    if (!live) inputs[root].focus();
  } else {
    document.getElementById("form-error").textContent = live ? message : describe(err);
  }
}

/* ---- the live check's answers ------------------------------------------ */

function checked(answer) {
  clearErrors();
  editor.showAnswer(answer);
  if (unanswered) clearNotice("check");
  unanswered = false;
}

/* A 400 is shown where a submit's would be; anything else is a line in
 * the editor, and no answer at all a notice too, once until one comes. */
function notChecked(err) {
  if (err.status === 400) {
    clearErrors();
    showServerError(err, true);
  } else if (err.status === 401) {
    editor.setNote("Not checked: the server wants its token, which is asked for when you create the job.");
  } else {
    editor.setNote(`Not checked: ${err.status === 0 ? "the server does not answer" : describe(err)}.`);
  }
  if (err.status === 0 && !unanswered) notify("check", `Cannot check the new job: ${describe(err)}`);
  unanswered = unanswered || err.status === 0;
}

function startCheck() {
  check = createJobCheck({
    body,
    onPending: (on) => editor && editor.setPending(on),
    onAnswer: checked,
    onError: notChecked,
  });
}

async function submit(ev) {
  ev.preventDefault();
  check.cancel(); // the submit's answer is the newer one
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
  for (const o of FIELDS) {
    dirty[o.name] = false;
    inputs[o.name].closest(".field").classList.remove("changed");
  }
  if (editor) editor.reset();
  clearErrors();
  refreshDefaults();
}

/* The data sets' sizes beside their names, unavailable ones disabled. */
async function describeDatasets() {
  const choice = inputs.dataset;
  if (!choice || choice.tagName !== "SELECT") return;
  try {
    const list = (await api.datasets()).datasets;
    for (const d of list) {
      const o = [...choice.options].find((x) => x.value === d.name);
      if (!o) continue;
      o.textContent = d.available === false ? `${d.name} (unavailable)` : `${d.name} (${d.train} train / ${d.test} test)`;
      o.disabled = d.available === false;
      if (d.error) o.title = d.error;
    }
  } catch (err) {
    fieldError("dataset").textContent = `Cannot list the data sets: ${describe(err)}`;
  }
}

export async function startJobForm() {
  form = document.getElementById("job-form");
  // On a phone the form starts folded, so the jobs and curves come first.
  if (window.matchMedia("(max-width: 640px)").matches) document.getElementById("form-details").open = false;
  form.addEventListener("submit", submit);
  form.querySelector("#form-reset").addEventListener("click", reset);
  api.health().then((h) => {
    store.serverWorkers = h.workers;
    document.getElementById("server-version").textContent = `traind ${h.version} · ${h.workers} workers`;
  }, (err) => notify("health", `Cannot reach the server: ${describe(err)}`));
  const button = form.querySelector("button[type=submit]");
  button.disabled = true; // until there is a form to send
  try {
    OPTIONS = (await api.jobOptions()).options;
  } catch (err) {
    document.getElementById("form-error").textContent = `Cannot load the job options: ${describe(err)}`;
    return;
  }
  startCheck();
  build();
  refreshDefaults();
  button.disabled = false;
  await describeDatasets();
}
