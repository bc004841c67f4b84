// curves.js - the training curves of the selected job and of the jobs
// overlaid on it: loss per step (linear or log scale) and train/test
// accuracy per epoch, drawn with uPlot. Each plotted job is polled about
// once a second with since_step = the next_step of the previous answer, so
// a poll costs only what is new; polling stops for a finished job (after
// one last answer) and while the page is hidden.

import uPlot from "./node_modules/uplot/dist/uPlot.esm.js";
import { api } from "./api.js";
import { clearNotice, describe, notify } from "./notice.js";
import { FINISHED, store } from "./store.js";

const POLL_MS = 1000;
const FIRST_POINTS = 2000; // the first answer thins a long history to this
const KEEP_POINTS = 20000; // per job in the page; older points are thinned
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#65a30d"];

const series = new Map(); // job id -> { steps, losses, epochs: Map, next, done, color }
let lossPlot = null, accPlot = null, logScale = false, timer = null, colorNext = 0;

function track(id) {
  if (!series.has(id))
    series.set(id, { steps: [], losses: [], epochs: new Map(), next: 0, done: false, started: false, color: COLORS[colorNext++ % COLORS.length] });
  return series.get(id);
}

/* Halves a job's points, keeping the newest, when it holds too many. */
function thin(s) {
  const n = s.steps.length;
  if (n <= KEEP_POINTS) return;
  const keep = (_, i) => i % 2 === 0 || i === n - 1;
  s.steps = s.steps.filter(keep);
  s.losses = s.losses.filter(keep);
}

async function poll(id) {
  const s = track(id);
  if (s.done) return false;
  const m = await api.metrics(id, s.next, s.started ? 1000 : FIRST_POINTS);
  s.started = true;
  let grew = false;
  for (const [step, , loss] of m.points) {
    if (step < s.next) continue;
    s.steps.push(step);
    s.losses.push(loss);
    grew = true;
  }
  for (const e of m.epochs) {
    if (!s.epochs.has(e.epoch)) grew = true;
    s.epochs.set(e.epoch, e);
  }
  s.next = Math.max(s.next, m.next_step);
  if (FINISHED.has(m.state)) s.done = true;
  thin(s);
  return grew;
}

async function pollAll() {
  let grew = false;
  for (const id of store.plotted()) {
    try {
      grew = (await poll(id)) || grew;
      clearNotice(`metrics-${id}`);
    } catch (err) {
      if (err.status === 404) series.delete(id);
      else notify(`metrics-${id}`, `Cannot read the curves of job ${id}: ${describe(err)}`);
    }
  }
  if (grew) draw();
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (!document.hidden) await pollAll();
    schedule();
  }, POLL_MS);
}

function jobName(id) {
  const j = store.job(id);
  return j && j.name !== id ? `${j.name} (${id})` : id;
}

function chartSize(el) {
  const w = Math.max(240, el.clientWidth);
  return { width: w, height: w < 500 ? 200 : 260 };
}

/* The data of both charts for the plotted jobs, as uPlot's aligned tables. */
function chartData(ids) {
  const lossTables = ids.map((id) => {
    const s = series.get(id);
    return [s.steps, logScale ? s.losses.map((v) => (v > 0 ? v : null)) : s.losses];
  });
  const accTables = [];
  for (const id of ids) {
    const rows = [...series.get(id).epochs.values()].sort((a, b) => a.epoch - b.epoch);
    const x = rows.map((r) => r.epoch);
    accTables.push([x, rows.map((r) => r.test_accuracy)], [x, rows.map((r) => r.train_accuracy)]);
  }
  return {
    loss: ids.length ? uPlot.join(lossTables) : [[]],
    acc: ids.length ? uPlot.join(accTables) : [[]],
  };
}

/* Grid lines of a log axis at the powers of ten only (uPlot's default
 * also draws 2..9 of each decade, a gray band on a small chart). */
function decades(u, axis, min, max) {
  const out = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    const v = 10 ** e;
    if (v >= min && v <= max) out.push(v);
  }
  return out;
}

let built = ""; // what the charts were built for: jobs, scale and names

/* Builds the charts anew when the plotted jobs or the scale changed, and
 * otherwise only hands them the new data. */
function draw() {
  const ids = store.plotted().filter((id) => series.has(id));
  const lossEl = document.getElementById("loss-chart");
  const accEl = document.getElementById("acc-chart");
  document.getElementById("curves-empty").hidden = ids.length > 0;
  document.getElementById("charts").hidden = ids.length === 0;
  const data = chartData(ids);
  const lossFig = document.getElementById("loss-figure");
  lossFig.dataset.points = String(ids.reduce((n, id) => n + series.get(id).steps.length, 0));
  lossFig.dataset.jobs = ids.join(",");
  document.getElementById("acc-figure").dataset.epochs = String(data.acc[0].length);
  if (!ids.length) return;

  const key = `${ids.map(jobName).join("|")}/${logScale}`;
  if (key === built && lossPlot && accPlot) {
    lossPlot.setData(data.loss);
    accPlot.setData(data.acc);
    return;
  }
  built = key;
  if (lossPlot) lossPlot.destroy();
  if (accPlot) accPlot.destroy();
  lossEl.innerHTML = accEl.innerHTML = "";
  const noPoints = { show: false };
  lossPlot = new uPlot({
    ...chartSize(lossEl),
    scales: { x: { time: false }, y: logScale ? { distr: 3, log: 10 } : { auto: true } },
    axes: [{ label: "step" }, { label: logScale ? "loss (log scale)" : "loss", size: 64, ...(logScale ? { splits: decades } : {}) }],
    series: [
      { label: "step" },
      ...ids.map((id) => ({ label: jobName(id), stroke: series.get(id).color, width: 1.5, spanGaps: true, points: noPoints })),
    ],
  }, data.loss, lossEl);

  const accSeries = [{ label: "epoch" }];
  for (const id of ids) {
    const color = series.get(id).color;
    accSeries.push(
      { label: `${jobName(id)} test`, stroke: color, width: 2, spanGaps: true },
      { label: `${jobName(id)} train`, stroke: color, width: 1, dash: [5, 4], spanGaps: true, points: noPoints },
    );
  }
  accPlot = new uPlot({
    ...chartSize(accEl),
    scales: { x: { time: false }, y: { auto: true } },
    axes: [
      { label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] },
      { label: "accuracy", size: 64, values: (u, v) => v.map((a) => (a == null ? "" : `${(a * 100).toFixed(v.length > 1 && v[1] - v[0] < 0.01 ? 1 : 0)}%`)) },
    ],
    series: accSeries,
  }, data.acc, accEl);
}

function resize() {
  if (lossPlot) lossPlot.setSize(chartSize(document.getElementById("loss-chart")));
  if (accPlot) accPlot.setSize(chartSize(document.getElementById("acc-chart")));
}

export function startCurves() {
  const toggle = document.getElementById("log-scale");
  toggle.addEventListener("change", () => {
    logScale = toggle.checked;
    draw();
  });
  let plottedKey = "";
  store.subscribe(() => {
    const key = store.plotted().join(",");
    // A finished job that was plotted before needs no new polls; a newly
    // plotted one is fetched at once rather than at the next tick.
    if (key !== plottedKey) {
      plottedKey = key;
      for (const id of [...series.keys()]) if (!store.job(id)) series.delete(id);
      draw();
      pollAll();
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) pollAll();
  });
  new ResizeObserver(resize).observe(document.getElementById("loss-chart"));
  draw();
  schedule();
}
