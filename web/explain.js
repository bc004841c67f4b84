// explain.js - backprop step by step: a small network's one training step
// from POST /v1/explain, rendered as a walk-through - each quantity with its
// formula, its shape beside the shapes it came from, its values and, for a
// gradient, its numerical-check error - and a "check my numbers" box where
// a person pastes their own matrix for one step (JSON) and sees which
// entries differ, or that its shape is not the step's.

import { api } from "./api.js";
import { describe } from "./notice.js";

const SHOW_ROWS = 8, SHOW_COLS = 10;
const REL_TOL = 1e-6, ABS_TOL = 1e-9;

const PRESETS = {
  xor: { hidden: "4", activation: "sigmoid", output: "sigmoid", loss: "mse", optimizer: "sgd", learning_rate: "0.5", source: "input", input: "0,0,1; 0,1,1; 1,0,1; 1,1,1", labels: "0,1,1,0", classes: "2" },
  deep: { hidden: "3,3", activation: "sigmoid", output: "sigmoid", loss: "mse", optimizer: "sgd", learning_rate: "0.1", source: "input", input: "1,2,3,2.5", labels: "1", classes: "2" },
  mnist: { hidden: "100", activation: "sigmoid", output: "sigmoid", loss: "mse", optimizer: "sgd", learning_rate: "0.1", source: "sample", sample: "0" },
};

let trace = null;
const $ = (id) => document.getElementById(id);

function numbers(text, what) {
  const rows = text.split(";").map((r) => r.trim()).filter((r) => r !== "");
  const out = rows.map((r) => r.split(",").map((v) => {
    const x = Number(v.trim());
    if (v.trim() === "" || !Number.isFinite(x)) throw new Error(`${what}: "${v.trim()}" is not a number`);
    return x;
  }));
  if (!out.length) throw new Error(`${what}: give at least one number`);
  return out;
}

/* The request body from the form; throws naming the field. */
function body() {
  const f = $("explain-form");
  const v = (name) => f.elements[name].value.trim();
  const b = {
    hidden: v("hidden") === "" ? [] : v("hidden").split(",").map((x) => Number(x.trim())),
    activation: v("activation"), output: v("output"), loss: v("loss"), optimizer: v("optimizer"),
    learning_rate: Number(v("learning_rate")), l2: Number(v("l2")), seed: Number(v("seed")),
  };
  if (f.elements.source.value === "sample") {
    b.dataset = v("dataset");
    b.sample = Number(v("sample"));
  } else {
    b.input = numbers(v("input"), "input");
    b.labels = numbers(v("labels"), "labels").flat();
    b.classes = Number(v("classes"));
  }
  return b;
}

function fmt(x) {
  if (x === null || x === undefined) return "–";
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e4 ? x.toPrecision(6).replace(/\.?0+$/, "") : x.toExponential(3);
}

function valuesTable(step, marks, ref) {
  const table = document.createElement("table");
  table.className = "values";
  const rows = step.values.slice(0, SHOW_ROWS);
  for (let r = 0; r < rows.length; r++) {
    const tr = table.insertRow();
    for (let c = 0; c < Math.min(rows[r].length, SHOW_COLS); c++) {
      const td = tr.insertCell();
      td.textContent = fmt(rows[r][c]);
      if (marks && marks[r] && marks[r][c]) {
        td.className = "differs";
        td.title = `${step.name} is ${fmt(ref[r][c])} here`;
      }
    }
    if (rows[r].length > SHOW_COLS) tr.insertCell().textContent = "…";
  }
  if (step.values.length > SHOW_ROWS || step.truncated) {
    const tr = table.insertRow();
    tr.insertCell().textContent = `… ${step.shape[0]} rows in all`;
  }
  return table;
}

function stepElement(step, i) {
  const li = document.createElement("li");
  li.className = "step";
  li.dataset.name = step.name;
  li.dataset.phase = step.phase;
  const head = document.createElement("div");
  head.className = "step-head";
  const name = document.createElement("strong");
  name.textContent = step.name;
  const shape = document.createElement("span");
  shape.className = "shape";
  shape.textContent = `${step.shape[0]}×${step.shape[1]}`;
  head.append(name, shape);
  if (step.check_error !== undefined) {
    const badge = document.createElement("span");
    const ok = step.check_error !== null && step.check_error < 1e-6;
    badge.className = `check ${ok ? "ok" : "bad"}`;
    badge.textContent = `numerical check ${step.check_error === null ? "–" : step.check_error.toExponential(1)} over ${step.checked} entries`;
    head.append(badge);
  }
  const formula = document.createElement("code");
  formula.className = "formula";
  formula.textContent = step.formula;
  const words = document.createElement("p");
  words.className = "words";
  words.textContent = step.words;
  li.append(head, formula, words);
  if (step.from) {
    const from = document.createElement("p");
    from.className = "from";
    from.textContent = `shapes: ${step.from}`;
    li.append(from);
  }
  li.append(valuesTable(step));
  li.id = `step-${i}`;
  return li;
}

function render() {
  const out = $("explain-steps");
  out.replaceChildren();
  const summary = $("explain-summary");
  if (!trace) {
    summary.textContent = "";
    $("check-box").hidden = true;
    return;
  }
  summary.textContent = `Layers ${trace.layers.join("-")}: ${trace.activation} hidden, ${trace.output} output, ${trace.loss} loss, ${trace.optimizer} (lr ${trace.learning_rate}); ${trace.parameters} parameters, ${trace.batch} sample(s). J = ${fmt(trace.objective)}; every gradient matches central differences to ${trace.max_check_error.toExponential(1)}.`;
  let phase = "";
  trace.steps.forEach((s, i) => {
    if (s.phase !== phase) {
      phase = s.phase;
      const h = document.createElement("li");
      h.className = "phase";
      h.textContent = phase;
      out.append(h);
    }
    out.append(stepElement(s, i));
  });
  const sel = $("check-step");
  sel.replaceChildren(...trace.steps.map((s) => new Option(`${s.name} (${s.shape[0]}×${s.shape[1]})`, s.name)));
  const grad = trace.steps.find((s) => s.name.startsWith("dW"));
  if (grad) sel.value = grad.name;
  $("check-box").hidden = false;
  $("explain-panel").dataset.steps = String(trace.steps.length);
}

/* A pasted value as rows: a number, a row, or rows. */
function asRows(v) {
  if (typeof v === "number") return [[v]];
  if (!Array.isArray(v)) throw new Error("paste a number, an array or an array of arrays");
  if (v.every((x) => typeof x === "number")) return [v];
  if (v.every((r) => Array.isArray(r) && r.every((x) => typeof x === "number"))) return v;
  throw new Error("every entry must be a number");
}

function check() {
  const result = $("check-result");
  const mine = $("check-mine");
  result.replaceChildren();
  const step = trace.steps.find((s) => s.name === $("check-step").value);
  let rows;
  try {
    rows = asRows(JSON.parse($("check-input").value));
  } catch (err) {
    result.textContent = `Not a matrix: ${err.message}.`;
    result.dataset.verdict = "invalid";
    return;
  }
  const [R, C] = step.shape;
  const cols = rows[0].length;
  const square = rows.every((r) => r.length === cols);
  const p = document.createElement("p");
  if (!square || rows.length !== R || cols !== C) {
    const t = rows.length === C && cols === R ? " - that is its transpose" : "";
    p.textContent = `Shape mismatch: yours is ${rows.length}×${square ? cols : "?"}, ${step.name} is ${R}×${C}${t} (${step.from || step.formula}).`;
    result.dataset.verdict = "shape";
    result.append(p);
    return;
  }
  let differ = 0, worst = 0, compared = 0;
  const marks = rows.map((r, i) => r.map((x, j) => {
    const ref = step.values[i] && step.values[i][j];
    if (ref === undefined || ref === null) return false;
    compared++;
    const d = Math.abs(x - ref);
    worst = Math.max(worst, d);
    const bad = d > ABS_TOL + REL_TOL * Math.abs(ref);
    differ += bad;
    return bad;
  }));
  p.textContent = differ === 0
    ? `All ${compared} entries match ${step.name} (to ${REL_TOL} relative).`
    : `${differ} of ${compared} entries differ from ${step.name} (largest difference ${worst.toExponential(2)}); they are marked below.`;
  result.dataset.verdict = differ === 0 ? "match" : "differs";
  result.dataset.differ = String(differ);
  result.append(p, valuesTable({ ...step, values: rows }, marks, step.values));
  mine.hidden = false;
}

function applyPreset(name) {
  const f = $("explain-form");
  const p = PRESETS[name];
  for (const [k, v] of Object.entries(p)) if (f.elements[k]) f.elements[k].value = v;
  f.elements.l2.value = "0";
  sourceChanged();
}

function sourceChanged() {
  const sample = $("explain-form").elements.source.value === "sample";
  $("explain-sample").hidden = !sample;
  $("explain-input").hidden = sample;
}

async function submit(ev) {
  ev.preventDefault();
  const err = $("explain-error");
  err.textContent = "";
  err.hidden = true;
  let b;
  try {
    b = body();
  } catch (e) {
    err.textContent = e.message;
    err.hidden = false;
    return;
  }
  const button = $("explain-go");
  button.disabled = true;
  try {
    trace = await api.explain(b);
  } catch (e) {
    trace = null;
    err.textContent = e.field ? `${e.field}: ${describe(e)}` : describe(e);
    err.hidden = false;
  } finally {
    button.disabled = false;
  }
  render();
}

export async function startExplain() {
  const f = $("explain-form");
  f.addEventListener("submit", submit);
  for (const r of f.querySelectorAll('input[name="source"]')) r.addEventListener("change", sourceChanged);
  for (const b of document.querySelectorAll("[data-preset]"))
    b.addEventListener("click", () => applyPreset(b.dataset.preset));
  $("check-go").addEventListener("click", check);
  applyPreset("xor");
  try {
    const d = await api.datasets();
    const sel = f.elements.dataset;
    sel.replaceChildren(...d.datasets.filter((x) => x.available).map((x) => new Option(x.name, x.name)));
  } catch {
    /* the jobs panel reports an unreachable server */
  }
}
