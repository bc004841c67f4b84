// learning.js - the learning panel: for the selected job (and the jobs
// compared with it), three statistics per weight tensor over steps, each on
// a log scale - ||W||, ||dW|| and the update ratio ||dW step|| / ||W|| -
// from GET /v1/jobs/{id}/layers, polled incrementally like the curves, and
// the job's warnings (vanishing or exploding updates, dead ReLUs, a loss
// stuck at chance) as sentences a person can act on; and, for the selected
// job, a ridge view of each layer's weights or activations per epoch
// (GET /v1/jobs/{id}/histograms: one curve per epoch, newest at the bottom).

import uPlot from "./node_modules/uplot/dist/uPlot.esm.js";
import { api } from "./api.js";
import { clearNotice, describe, notify } from "./notice.js";
import { FINISHED, store } from "./store.js";

const POLL_MS = 2000;
const MAX_POINTS = 2000;
const KEEP_POINTS = 4096; // per job in the page, as the server keeps
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#65a30d", "#854d0e"];
const DASHES = [[], [6, 4], [2, 3], [10, 3, 2, 3]]; // one per plotted job
const STATS = [
  { key: "w", title: "Weight norm ||W||", index: 0 },
  { key: "g", title: "Gradient norm ||dW||", index: 1 },
  { key: "r", title: "Update ratio ||ΔW|| / ||W|| (healthy: about 1e-3)", index: 2 },
];

const series = new Map(); // job id -> { tensors, steps, values: [step][tensor][3], next, done, warnings, dead }
const plots = new Map(); // stat key -> uPlot
let timer = null, built = "", polls = 0;
const hists = new Map(); // job id -> GET /v1/jobs/{id}/histograms

function track(id) {
  if (!series.has(id)) series.set(id, { tensors: [], steps: [], values: [], next: 0, done: false, warnings: [], dead: [] });
  return series.get(id);
}

function thin(s) {
  if (s.steps.length <= KEEP_POINTS) return;
  const n = s.steps.length, keep = (_, i) => i % 2 === 0 || i === n - 1;
  s.steps = s.steps.filter(keep);
  s.values = s.values.filter(keep);
}

async function poll(id) {
  const s = track(id);
  if (s.done) return false;
  const m = await api.layers(id, s.next, MAX_POINTS);
  let grew = false;
  s.tensors = m.tensors;
  for (const [step, per] of m.points) {
    if (step < s.next) continue;
    s.steps.push(step);
    s.values.push(per);
    grew = true;
  }
  s.next = Math.max(s.next, m.next_step);
  const w = JSON.stringify(m.warnings);
  if (w !== JSON.stringify(s.warnings)) grew = true;
  s.warnings = m.warnings;
  s.dead = m.dead;
  if (FINISHED.has(m.state)) s.done = true;
  thin(s);
  return grew;
}

async function pollAll() {
  let grew = false;
  for (const id of store.plotted()) {
    try {
      grew = (await poll(id)) || grew;
      clearNotice(`layers-${id}`);
    } catch (err) {
      if (err.status === 404) series.delete(id);
      else notify(`layers-${id}`, `Cannot read the layer statistics of job ${id}: ${describe(err)}`);
    }
  }
  if (grew) draw();
  if (polls++ % 5 === 0 || store.plotted().some((id) => !hists.has(id))) await loadHistograms();
}

/* The histograms of the plotted jobs (selected first), drawn when an
 * epoch was added. */
async function loadHistograms() {
  let changed = false;
  for (const id of store.plotted()) {
    try {
      const h = await api.histograms(id);
      const had = hists.get(id);
      if (!had || had.epochs.length !== h.epochs.length || had.epochs.at(-1)?.epoch !== h.epochs.at(-1)?.epoch) changed = true;
      hists.set(id, h);
      clearNotice(`hist-${id}`);
    } catch (err) {
      if (err.status === 404) hists.delete(id);
      else notify(`hist-${id}`, `Cannot read the histograms of job ${id}: ${describe(err)}`);
    }
  }
  if (changed) drawHistograms();
}

/* A ridge view of one histogram row (W1, a1, ...) over a job's epochs,
 * newest at the bottom, on the range of all its epochs. */
function ridge(canvas, rows) {
  const lo = Math.min(...rows.map((r) => r.h.lo ?? 0)), hi = Math.max(...rows.map((r) => r.h.hi ?? 0));
  const ratio = window.devicePixelRatio || 1;
  canvas.style.width = "100%";
  const width = Math.max(200, canvas.parentElement.clientWidth), height = Math.min(420, 60 + 22 * rows.length);
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  const left = 62, right = 8, top = 10, bottom = 24;
  const step = (height - top - bottom) / (rows.length + 1);
  const x = (v) => left + ((v - lo) / (hi - lo || 1)) * (width - left - right);
  g.font = "11px system-ui, sans-serif";
  rows.forEach((r, i) => {
    const base = top + (i + 1.5) * step, max = Math.max(1, ...r.h.counts);
    const a = r.h.lo ?? 0, w = ((r.h.hi ?? 0) - a) / r.h.counts.length;
    g.beginPath();
    g.moveTo(x(a), base);
    r.h.counts.forEach((c, k) => g.lineTo(x(a + (k + 0.5) * w), base - (c / max) * step * 1.8));
    g.lineTo(x(r.h.hi ?? 0), base);
    g.closePath();
    g.fillStyle = "rgba(37, 99, 235, 0.35)";
    g.strokeStyle = "#1d4ed8";
    g.fill();
    g.stroke();
    g.fillStyle = "#5d6677";
    g.fillText(`epoch ${r.epoch}`, 4, base);
  });
  g.fillStyle = "#1d2330";
  g.fillText(lo.toPrecision(3), left, height - 6);
  const hiText = hi.toPrecision(3);
  g.fillText(hiText, width - right - g.measureText(hiText).width, height - 6);
}

function drawHistograms() {
  const fig = document.getElementById("hist-figure");
  const pick = document.getElementById("hist-row");
  const grid = document.getElementById("hist-grid");
  const ids = store.plotted().filter((id) => hists.get(id)?.epochs.length);
  fig.hidden = ids.length === 0;
  fig.dataset.epochs = String(ids.length ? hists.get(ids[0]).epochs.length : 0);
  fig.dataset.jobs = ids.join(",");
  grid.replaceChildren();
  if (!ids.length) return;
  const names = hists.get(ids[0]).epochs.at(-1).histograms.map((h) => h.name);
  if ([...pick.options].map((o) => o.value).join() !== names.join()) {
    const keep = pick.value;
    pick.replaceChildren(...names.map((n) => new Option(n.startsWith("W") ? `${n}: weights` : `${n}: activations`, n)));
    if (names.includes(keep)) pick.value = keep;
  }
  const drawn = []; // laid out first, drawn after: each canvas takes its cell's width
  for (const id of ids) {
    const rows = hists.get(id).epochs.map((e) => ({ epoch: e.epoch, h: e.histograms.find((x) => x.name === pick.value) })).filter((r) => r.h);
    const cell = document.createElement("div");
    cell.className = "hist-cell";
    const cap = document.createElement("p");
    cap.className = "muted";
    cap.textContent = rows.length ? `${id}: ${pick.value}` : `${id}: has no ${pick.value}`;
    const canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `Job ${id}: ${pick.value} per epoch, newest at the bottom`);
    cell.append(cap, canvas);
    grid.append(cell);
    if (rows.length) drawn.push([canvas, rows]);
  }
  for (const [canvas, rows] of drawn) ridge(canvas, rows);
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (!document.hidden) await pollAll();
    schedule();
  }, POLL_MS);
}

function decades(u, axis, min, max) {
  const out = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    const v = 10 ** e;
    if (v >= min && v <= max) out.push(v);
  }
  return out;
}

function chartSize(el) {
  const w = Math.max(220, el.clientWidth);
  return { width: w, height: w < 500 ? 170 : 200 };
}

/* One aligned table per statistic: x = steps, a column per (job, tensor). */
function tables(ids, index) {
  const parts = [];
  for (const id of ids) {
    const s = series.get(id);
    for (let t = 0; t < s.tensors.length; t++)
      parts.push([s.steps, s.values.map((per) => (per[t] && per[t][index] > 0 ? per[t][index] : null))]);
  }
  return parts.length ? uPlot.join(parts) : [[]];
}

function renderWarnings(ids) {
  const list = document.getElementById("learning-warnings");
  list.replaceChildren();
  for (const id of ids) {
    for (const w of series.get(id).warnings) {
      const li = document.createElement("li");
      li.dataset.kind = w.kind;
      li.dataset.layer = String(w.layer);
      li.textContent = ids.length > 1 ? `${id}: ${w.message}` : w.message;
      list.append(li);
    }
  }
  list.hidden = list.children.length === 0;
  document.getElementById("learning-ok").hidden = list.children.length > 0 || ids.length === 0;
}

function draw() {
  const ids = store.plotted().filter((id) => series.has(id) && series.get(id).tensors.length);
  const panel = document.getElementById("learning-panel");
  document.getElementById("learning-empty").hidden = ids.length > 0;
  document.getElementById("learning-charts").hidden = ids.length === 0;
  panel.dataset.points = String(ids.reduce((n, id) => n + series.get(id).steps.length, 0));
  panel.dataset.jobs = ids.join(",");
  renderWarnings(ids);
  if (!ids.length) return;
  const key = ids.map((id) => `${id}:${series.get(id).tensors.length}`).join("|");
  if (key === built && plots.size === STATS.length) {
    for (const st of STATS) plots.get(st.key).setData(tables(ids, st.index));
    return;
  }
  built = key;
  for (const p of plots.values()) p.destroy();
  plots.clear();
  for (const st of STATS) {
    const el = document.getElementById(`layers-${st.key}`);
    el.innerHTML = "";
    const ser = [{ label: "step" }];
    ids.forEach((id, j) => {
      for (const name of series.get(id).tensors) {
        const t = Number(name.slice(1)) - 1;
        ser.push({ label: ids.length > 1 ? `${id} ${name}` : name, stroke: COLORS[t % COLORS.length], dash: DASHES[j % DASHES.length], width: 1.5, spanGaps: true, points: { show: false } });
      }
    });
    plots.set(st.key, new uPlot({
      ...chartSize(el),
      scales: { x: { time: false }, y: { distr: 3, log: 10 } },
      axes: [{ label: "step" }, { size: 64, splits: decades, values: (u, v) => v.map((x) => (x == null ? "" : x.toExponential(0))) }],
      series: ser,
    }, tables(ids, st.index), el));
  }
}

function resize() {
  for (const st of STATS) {
    const p = plots.get(st.key);
    if (p) p.setSize(chartSize(document.getElementById(`layers-${st.key}`)));
  }
}

export function startLearning() {
  document.getElementById("hist-row").addEventListener("change", drawHistograms);
  let plottedKey = "";
  store.subscribe(() => {
    const key = store.plotted().join(",");
    if (key !== plottedKey) {
      plottedKey = key;
      for (const id of [...series.keys()]) if (!store.job(id)) series.delete(id);
      draw();
      drawHistograms();
      loadHistograms();
      pollAll();
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) pollAll();
  });
  new ResizeObserver(resize).observe(document.getElementById("layers-w"));
  draw();
  schedule();
}
