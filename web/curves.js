// curves.js - the training curves of the selected job and of the jobs
// overlaid on it: loss (linear or log scale, smoothed on request, the raw
// curve faint behind the smoothed one) and train/test accuracy per epoch,
// drawn with uPlot against one of four x axes: step, epoch, time since the
// job's first step, or wall-clock time. Above them, the job view: the
// selected job's state, elapsed time and time left, why it stopped, its
// model's layers (modelview.js) and its curve as a CSV download.
//
// Each plotted job is polled about once a second with since_step = the
// next_step of the previous answer, so a poll costs only what is new; the
// first asks for the whole curve the server keeps. Polling stops for a
// finished job (after one last answer) and while the page is hidden. The
// smoothing runs over every point held; only then is each curve thinned
// to what the chart's width can show.

import uPlot from "./node_modules/uplot/dist/uPlot.esm.js";
import { api } from "./api.js";
import { duration, jobTiming, stopReason } from "./format.js";
import { renderModel } from "./modelview.js";
import { clearNotice, describe, notify } from "./notice.js";
import { AXES, clock, ema, thinIndices, timeAtStep, xOfStep } from "./smooth.js";
import { FINISHED, store } from "./store.js";

const POLL_MS = 1000;
const FIRST_POINTS = 20000; // the server's default max_curve_points: the whole curve
const KEEP_POINTS = 20000; // per job in the page; older points are thinned
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#65a30d"];
const PREFS = "traind.curves";

const series = new Map(); // job id -> { steps, times, losses, epochs: Map, next, done, color }
let lossPlot = null, accPlot = null, timer = null, colorNext = 0;
const prefs = { log: false, smoothing: 0, axis: "step", ...readPrefs() };
let drawn = null; // what the charts show (chartState)

function readPrefs() {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS) || "{}");
    const out = {};
    if (p.smoothing >= 0 && p.smoothing < 1) out.smoothing = p.smoothing;
    if (p.axis in AXES) out.axis = p.axis;
    return out;
  } catch {
    return {};
  }
}

function savePrefs() {
  localStorage.setItem(PREFS, JSON.stringify({ smoothing: prefs.smoothing, axis: prefs.axis }));
}

function track(id) {
  if (!series.has(id))
    series.set(id, { steps: [], times: [], losses: [], epochs: new Map(), next: 0, done: false, started: false, color: COLORS[colorNext++ % COLORS.length] });
  return series.get(id);
}

/* Halves a job's points, keeping the first and the newest, when it holds too many. */
function thin(s) {
  const n = s.steps.length;
  if (n <= KEEP_POINTS) return;
  const keep = (_, i) => i % 2 === 0 || i === n - 1;
  s.steps = s.steps.filter(keep);
  s.times = s.times.filter(keep);
  s.losses = s.losses.filter(keep);
}

async function poll(id) {
  const s = track(id);
  if (s.done) return false;
  const m = await api.metrics(id, s.next, s.started ? 1000 : FIRST_POINTS);
  s.started = true;
  let grew = false;
  for (const [step, time, loss] of m.points) {
    if (step < s.next) continue;
    s.steps.push(step);
    s.times.push(time);
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

function stepsPerEpoch(id) {
  const p = (store.job(id) || {}).progress;
  return p && p.epochs > 0 && p.steps > 0 ? p.steps / p.epochs : 1;
}

/* One job's loss curve as drawn: smoothed over all its points, then
 * thinned to `max` points, x for the axis chosen. */
function lossCurve(id, max) {
  const s = series.get(id);
  const w = prefs.smoothing;
  const smooth = w > 0 ? ema(s.losses, w) : null;
  const idx = thinIndices(s.steps.length, max);
  const spe = stepsPerEpoch(id), t0 = s.times[0];
  return {
    id,
    rawCount: s.steps.length,
    x: idx.map((i) => xOfStep(prefs.axis, s.steps[i], s.times[i], spe, t0)),
    steps: idx.map((i) => s.steps[i]),
    raw: idx.map((i) => s.losses[i]),
    smooth: smooth && idx.map((i) => smooth[i]),
  };
}

/* One job's epochs: x of each epoch's last step on the axis chosen. */
function accCurve(id) {
  const s = series.get(id);
  const rows = [...s.epochs.values()].sort((a, b) => a.epoch - b.epoch);
  const spe = stepsPerEpoch(id), t0 = s.times[0];
  const out = { id, x: [], test: [], train: [] };
  for (const r of rows) {
    const t = timeAtStep(s.steps, s.times, r.step);
    const x = prefs.axis === "epoch" ? r.epoch : xOfStep(prefs.axis, r.step, t, spe, t0);
    if (x == null || !Number.isFinite(x)) continue; // a time axis before any point
    out.x.push(x);
    out.test.push(r.test_accuracy);
    out.train.push(r.train_accuracy);
  }
  return out;
}

const positive = (v) => (v != null && v > 0 ? v : null);

/* The data of both charts for the plotted jobs, as uPlot's aligned tables. */
function chartData(ids, max) {
  const loss = ids.map((id) => lossCurve(id, max));
  const acc = ids.map(accCurve);
  const lossTables = loss.map((c) => {
    const ys = c.smooth ? [c.raw, c.smooth] : [c.raw];
    return [c.x, ...(prefs.log ? ys.map((y) => y.map(positive)) : ys)];
  });
  const accTables = acc.map((c) => [c.x, c.test, c.train]);
  drawn = { axis: prefs.axis, smoothing: prefs.smoothing, log: prefs.log, timeScale: AXES[prefs.axis].time, loss, acc };
  return {
    loss: ids.length ? uPlot.join(lossTables) : [[]],
    acc: ids.length ? uPlot.join(accTables) : [[]],
  };
}

/* What the charts show now, per plotted job: x, the raw and smoothed loss
 * as drawn (thinned), how many points the smoothing ran over, and the
 * epochs' x. For the browser test and the console. */
export function chartState() {
  return drawn && JSON.parse(JSON.stringify(drawn));
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

/* The x axis and the x of the legend, for the axis chosen. */
function xAxis() {
  const a = AXES[prefs.axis];
  const axis = { label: a.label };
  const legend = { label: a.label };
  if (prefs.axis === "relative") {
    axis.values = (u, vals, i, space, incr) => vals.map((v) => clock(v, incr));
    legend.value = (u, v) => clock(v, 0.01);
  } else if (prefs.axis === "epoch") {
    legend.value = (u, v) => (v == null ? "" : v.toFixed(2));
  }
  return { axis, legend };
}

/* A color with alpha: the raw curve behind a smoothed one. */
function faint(hex) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, 0.22)`;
}

let built = ""; // what the charts were built for: jobs, names, scale, axis, smoothing on/off

function buildCharts(ids, data, lossEl, accEl) {
  if (lossPlot) lossPlot.destroy();
  if (accPlot) accPlot.destroy();
  lossEl.innerHTML = accEl.innerHTML = "";
  const noPoints = { show: false };
  const x = xAxis();
  const smoothing = prefs.smoothing > 0;
  const lossSeries = [x.legend];
  for (const id of ids) {
    const color = series.get(id).color;
    lossSeries.push({ label: smoothing ? `${jobName(id)} raw` : jobName(id), stroke: smoothing ? faint(color) : color, width: smoothing ? 1 : 1.5, spanGaps: true, points: noPoints });
    if (smoothing) lossSeries.push({ label: jobName(id), stroke: color, width: 2, spanGaps: true, points: noPoints });
  }
  const logLabel = prefs.log ? "loss (log scale)" : "loss";
  lossPlot = new uPlot({
    ...chartSize(lossEl),
    scales: { x: { time: AXES[prefs.axis].time }, y: prefs.log ? { distr: 3, log: 10 } : { auto: true } },
    axes: [x.axis, { label: logLabel, size: 64, ...(prefs.log ? { splits: decades } : {}) }],
    series: lossSeries,
  }, data.loss, lossEl);

  const accSeries = [{ ...x.legend }];
  for (const id of ids) {
    const color = series.get(id).color;
    accSeries.push(
      { label: `${jobName(id)} test`, stroke: color, width: 2, spanGaps: true },
      { label: `${jobName(id)} train`, stroke: color, width: 1, dash: [5, 4], spanGaps: true, points: noPoints },
    );
  }
  const accX = prefs.axis === "epoch" ? { ...x.axis, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] } : { ...xAxis().axis };
  accPlot = new uPlot({
    ...chartSize(accEl),
    scales: { x: { time: AXES[prefs.axis].time }, y: { auto: true } },
    axes: [
      accX,
      { label: "accuracy", size: 64, values: (u, v) => v.map((a) => (a == null ? "" : `${(a * 100).toFixed(v.length > 1 && v[1] - v[0] < 0.01 ? 1 : 0)}%`)) },
    ],
    series: accSeries,
  }, data.acc, accEl);
}

/* Builds the charts anew when the plotted jobs, the scale, the axis or
 * smoothing on/off changed, and otherwise only hands them the new data. */
function draw() {
  const ids = store.plotted().filter((id) => series.has(id));
  const lossEl = document.getElementById("loss-chart");
  const accEl = document.getElementById("acc-chart");
  document.getElementById("curves-empty").hidden = ids.length > 0;
  document.getElementById("charts").hidden = ids.length === 0;
  const max = Math.max(400, 2 * Math.round(lossEl.clientWidth || 400));
  const data = chartData(ids, max);
  const lossFig = document.getElementById("loss-figure");
  lossFig.dataset.points = String(ids.reduce((n, id) => n + series.get(id).steps.length, 0));
  lossFig.dataset.drawn = String(drawn.loss.reduce((n, c) => n + c.x.length, 0));
  lossFig.dataset.jobs = ids.join(",");
  lossFig.dataset.axis = prefs.axis;
  lossFig.dataset.smoothing = String(prefs.smoothing);
  document.getElementById("acc-figure").dataset.epochs = String(data.acc[0].length);
  document.getElementById("loss-caption").textContent = `Training loss per ${AXES[prefs.axis].label}` +
    (prefs.smoothing > 0 ? ` (smoothed, weight ${prefs.smoothing}; faint: raw)` : "");
  document.getElementById("acc-caption").textContent = `Accuracy per epoch, against ${AXES[prefs.axis].label} (solid: test, dashed: train)`;
  if (!ids.length) return;

  const key = `${ids.map(jobName).join("|")}/${prefs.log}/${prefs.axis}/${prefs.smoothing > 0}`;
  if (key === built && lossPlot && accPlot) {
    lossPlot.setData(data.loss);
    accPlot.setData(data.acc);
    return;
  }
  built = key;
  buildCharts(ids, data, lossEl, accEl);
}

/* ---- the job view ----------------------------------------------------- */

function renderJobView() {
  const id = store.selected;
  const job = id && store.job(id);
  const el = document.getElementById("job-view");
  const link = document.getElementById("metrics-csv");
  el.hidden = !job;
  link.hidden = !job;
  renderModel(job);
  if (!job) return;
  link.href = api.metricsCsvUrl(id);
  link.setAttribute("aria-label", `Download the curve of job ${job.name} as CSV`);
  const { elapsed, left } = jobTiming(job, Date.now() / 1000);
  const p = job.progress;
  const parts = [`${job.name} · ${job.state}`, `epoch ${p.epoch}/${p.epochs}`];
  if (elapsed != null) parts.push(`${duration(elapsed)} elapsed`);
  if (left != null) parts.push(`about ${duration(left)} left`);
  document.getElementById("job-view-text").textContent = parts.join(" · ");
  el.dataset.elapsed = elapsed == null ? "" : String(elapsed);
  el.dataset.left = left == null ? "" : String(left);
  const why = job.state === "failed" || job.state === "cancelled" ? stopReason(job) : job.error || "";
  const whyEl = document.getElementById("job-view-why");
  whyEl.textContent = why;
  whyEl.hidden = !why;
}

function resize() {
  if (lossPlot) lossPlot.setSize(chartSize(document.getElementById("loss-chart")));
  if (accPlot) accPlot.setSize(chartSize(document.getElementById("acc-chart")));
}

function startControls() {
  const log = document.getElementById("log-scale");
  log.addEventListener("change", () => {
    prefs.log = log.checked;
    draw();
  });
  const slider = document.getElementById("smoothing");
  const shown = document.getElementById("smoothing-value");
  slider.value = String(prefs.smoothing);
  shown.textContent = prefs.smoothing.toFixed(2);
  slider.addEventListener("input", () => {
    prefs.smoothing = Math.min(0.999, Math.max(0, Number(slider.value)));
    shown.textContent = prefs.smoothing.toFixed(2);
    savePrefs();
    draw();
  });
  const axis = document.getElementById("x-axis");
  axis.value = prefs.axis;
  axis.addEventListener("change", () => {
    prefs.axis = axis.value in AXES ? axis.value : "step";
    savePrefs();
    draw();
  });
}

export function startCurves() {
  startControls();
  let plottedKey = "";
  store.subscribe(() => {
    renderJobView();
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
