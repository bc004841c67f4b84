// predict.js - the prediction panel: a canvas to draw on with mouse, pen or
// finger (pointer events), or a PNG dropped or picked; the model picker
// (GET /v1/models, running jobs included, and "latest"); the ten class
// probabilities as bars, updated while drawing (debounced, one request in
// flight at a time); and the 28x28 image the model saw, computed here with
// the server's own algorithm (mnist.js) since the answer carries no image.

import { api } from "./api.js";
import { describe } from "./notice.js";
import { imageToInput, paintImage, preprocessMnist, resampleArea, rgbaToGray } from "./mnist.js";
import { store } from "./store.js";

const DEBOUNCE_MS = 150;
const SIDE = 28;

let canvas, ctx, picker, bars, verdict, errorEl, seenCanvas, seenCaption, mnistBox;
let drawing = false, last = null, inked = false;
let timer = null, inFlight = false, again = false;
let models = [];
let modelsKey = "", modelsAt = 0;

/* ---- the drawing -------------------------------------------------------- */

function clearCanvas() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  inked = false;
}

/* Matches the canvas's pixels to its size on screen, keeping the drawing. */
function fitCanvas() {
  const side = Math.round(canvas.getBoundingClientRect().width * (window.devicePixelRatio || 1));
  if (side <= 0 || side === canvas.width) return;
  const old = document.createElement("canvas");
  old.width = old.height = canvas.width;
  old.getContext("2d").drawImage(canvas, 0, 0);
  const keep = inked;
  canvas.width = canvas.height = side;
  clearCanvas();
  if (keep) {
    ctx.drawImage(old, 0, 0, side, side);
    inked = true;
  }
}

function point(ev) {
  const r = canvas.getBoundingClientRect();
  return { x: ((ev.clientX - r.left) * canvas.width) / r.width, y: ((ev.clientY - r.top) * canvas.height) / r.height };
}

function stroke(from, to) {
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineWidth = canvas.width / 14; // about MNIST's pen: 2 of 28 pixels
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(from.x, from.y);
  ctx.lineTo(to.x, to.y);
  ctx.stroke();
  inked = true;
}

function onDown(ev) {
  if (ev.button !== 0 && ev.pointerType === "mouse") return;
  ev.preventDefault();
  canvas.setPointerCapture(ev.pointerId);
  drawing = true;
  last = point(ev);
  stroke(last, last);
  schedule();
}

function onMove(ev) {
  if (!drawing) return;
  ev.preventDefault();
  const events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev];
  for (const e of events.length ? events : [ev]) {
    const p = point(e);
    stroke(last, p);
    last = p;
  }
  schedule();
}

function onUp() {
  if (!drawing) return;
  drawing = false;
  schedule(0);
}

/* The canvas averaged down to 28x28 floats in [0,1] (white ink on black). */
function canvasInput() {
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const red = new Uint8Array(canvas.width * canvas.height);
  for (let i = 0; i < red.length; i++) red[i] = data[4 * i];
  return resampleArea(red, 0, canvas.width, canvas.width, canvas.height, SIDE, SIDE);
}

/* ---- predictions -------------------------------------------------------- */

/* While drawing, one update every DEBOUNCE_MS at most (a pending one is
 * not pushed back, so the bars move as you draw); delay 0 sends now. */
function schedule(delay = DEBOUNCE_MS) {
  if (timer && delay > 0) return;
  clearTimeout(timer);
  timer = setTimeout(() => {
    timer = null;
    predictDrawing();
  }, delay);
}

function useMnist() {
  return mnistBox.checked;
}

function showSeen(pixels, caption) {
  paintImage(seenCanvas, pixels);
  seenCaption.textContent = caption;
}

async function predictDrawing() {
  if (!inked) return;
  if (inFlight) {
    again = true;
    return;
  }
  const input = canvasInput();
  const pre = useMnist();
  showSeen(pre ? preprocessMnist(input) : input,
    pre ? "Your drawing averaged to 28×28, then MNIST preprocessing (crop, fit 20×20, centre of mass), computed here with the server's algorithm."
        : "Your drawing averaged to 28×28, as sent.");
  await run(() => api.predict(picker.value, [Array.from(input)], pre ? "mnist" : "none"), "your drawing");
  if (again) {
    again = false;
    schedule(0);
  }
}

async function predictFile(file) {
  if (!file) return;
  if (file.type && file.type !== "image/png") {
    showError(`${file.name} is not a PNG image (its type is ${file.type}).`);
    return;
  }
  const pre = useMnist();
  try {
    const bitmap = await createImageBitmap(file, { premultiplyAlpha: "none", colorSpaceConversion: "none" });
    const c = document.createElement("canvas");
    c.width = bitmap.width;
    c.height = bitmap.height;
    const cx = c.getContext("2d");
    cx.drawImage(bitmap, 0, 0);
    const gray = rgbaToGray(cx.getImageData(0, 0, c.width, c.height).data);
    const input = imageToInput(gray, c.width, c.height);
    showSeen(pre ? preprocessMnist(input) : input,
      `${file.name} (${c.width}×${c.height}) as the server converts it: gray, averaged to 28×28, light background inverted${pre ? ", then MNIST preprocessing" : ""}. Decoded by the browser, so colour profiles may differ slightly from the server's decoding.`);
  } catch {
    seenCaption.textContent = `The browser cannot decode ${file.name}; the server will say what it makes of it.`;
  }
  await run(() => api.predictPng(picker.value, file, pre ? "mnist" : "none"), file.name);
}

async function run(call, source) {
  if (!picker.value) {
    showError("No model to ask yet: train one, or wait until a running job publishes its first weights.");
    return;
  }
  inFlight = true;
  try {
    const { predictions } = await call();
    showError("");
    showBars(predictions[0], source);
  } catch (err) {
    showError(`Prediction failed: ${describe(err)}`);
  } finally {
    inFlight = false;
  }
}

function showError(text) {
  errorEl.textContent = text;
  errorEl.hidden = !text;
}

function classNames() {
  const m = models.find((x) => x.name === picker.value) || models.find((x) => x.job_state === "completed");
  return m ? m.classes : null;
}

function showBars(pred, source) {
  const names = classNames() || pred.probabilities.map((_, i) => String(i));
  bars.innerHTML = "";
  bars.dataset.source = source;
  pred.probabilities.forEach((p, i) => {
    const li = document.createElement("li");
    li.dataset.p = String(p);
    li.classList.toggle("best", i === pred.label);
    li.innerHTML = '<span class="cls"></span><span class="bar"><span></span></span><span class="pct"></span>';
    li.children[0].textContent = names[i] ?? String(i);
    li.children[1].firstChild.style.width = `${(100 * p).toFixed(1)}%`;
    li.children[2].textContent = `${(100 * p).toFixed(1)}%`;
    li.setAttribute("aria-label", `${names[i]}: ${(100 * p).toFixed(1)} percent`);
    bars.append(li);
  });
  const p = (100 * pred.probabilities[pred.label]).toFixed(1);
  verdict.textContent = `The model says ${pred.class} (${p} %) about ${source}.`;
}

/* ---- the model picker --------------------------------------------------- */

function modelLabel(m) {
  const name = m.job_name && m.job_name !== m.name ? `${m.job_name} (${m.name})` : m.name;
  const acc = m.test_accuracy == null ? "" : `, ${(100 * m.test_accuracy).toFixed(1)} %`;
  return `${name} — ${m.job_state}${acc}`;
}

export async function refreshModels() {
  let list;
  try {
    list = (await api.models()).models;
  } catch (err) {
    showError(`Cannot list the models: ${describe(err)}`);
    return;
  }
  models = list;
  const previous = picker.value;
  const usable = list.filter((m) => m.state === "AVAILABLE");
  picker.innerHTML = "";
  if (list.some((m) => m.job_state === "completed")) picker.append(new Option("latest (the most recently completed)", "latest"));
  for (const m of list) {
    const o = new Option(modelLabel(m), m.name);
    o.disabled = m.state !== "AVAILABLE";
    if (o.disabled) o.textContent += " — no weights yet";
    picker.append(o);
  }
  const want = [previous, store.selected, "latest", usable[0] && usable[0].name]
    .find((n) => n && [...picker.options].some((o) => o.value === n && !o.disabled));
  picker.value = want || "";
  picker.disabled = !want;
  if (!want) picker.append(new Option("no model has weights yet", ""));
  if (!want) picker.value = "";
}

/* Refreshes the picker when a job appears, changes state or ends an epoch,
 * and every few seconds while one trains (its first weights come after
 * snapshot_seconds, not at an epoch's end). */
function onJobs() {
  const key = store.jobs.map((j) => `${j.id}:${j.state}:${j.progress.epoch}`).join(",");
  const training = store.jobs.some((j) => j.state === "running");
  if (key !== modelsKey || (training && Date.now() - modelsAt > 3000)) {
    modelsKey = key;
    modelsAt = Date.now();
    refreshModels();
  }
}

export function startPredict() {
  canvas = document.getElementById("draw");
  ctx = canvas.getContext("2d", { willReadFrequently: true });
  picker = document.getElementById("model");
  bars = document.getElementById("probabilities");
  verdict = document.getElementById("verdict");
  errorEl = document.getElementById("predict-error");
  seenCanvas = document.getElementById("seen");
  seenCaption = document.getElementById("seen-caption");
  mnistBox = document.getElementById("preprocess");
  clearCanvas();
  fitCanvas();
  new ResizeObserver(fitCanvas).observe(canvas);

  canvas.addEventListener("pointerdown", onDown);
  canvas.addEventListener("pointermove", onMove);
  canvas.addEventListener("pointerup", onUp);
  canvas.addEventListener("pointercancel", onUp);
  document.getElementById("clear").addEventListener("click", () => {
    clearCanvas();
    bars.innerHTML = "";
    delete bars.dataset.source;
    verdict.textContent = "Draw a digit.";
    paintImage(seenCanvas, new Float32Array(SIDE * SIDE));
    seenCaption.textContent = "";
  });
  picker.addEventListener("change", () => schedule(0));
  mnistBox.addEventListener("change", () => schedule(0));

  const file = document.getElementById("png-file");
  file.addEventListener("change", () => predictFile(file.files[0]));
  const drop = document.getElementById("drop-zone");
  for (const el of [drop, canvas]) {
    el.addEventListener("dragover", (ev) => {
      ev.preventDefault();
      drop.classList.add("over");
    });
    el.addEventListener("dragleave", () => drop.classList.remove("over"));
    el.addEventListener("drop", (ev) => {
      ev.preventDefault();
      drop.classList.remove("over");
      predictFile(ev.dataTransfer.files[0]);
    });
  }
  store.subscribe((what) => what === "jobs" && onJobs());
}
