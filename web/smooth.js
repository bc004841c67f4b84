// smooth.js - what the curves panel computes before it draws: the
// debiased exponential moving average of a loss curve (TensorBoard's
// smoothing), the x value of a point or an epoch for each x axis (step,
// epoch, relative time, wall-clock time) and the thinning of a curve to
// what a chart of a given width can show. Pure functions on arrays.

/*
 * Debiased EMA with weight w in [0, 1): m_i = w·m_{i-1} + (1-w)·v_i from
 * m_{-1} = 0, divided by 1 - w^(i+1) so the first values are not pulled
 * towards 0. Non-finite values are skipped (their output is null) without
 * breaking the average. w = 0 returns the values.
 */
export function ema(values, w) {
  const out = new Array(values.length);
  let m = 0, n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v == null || !Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    m = w * m + (1 - w) * v;
    n++;
    out[i] = w === 0 ? v : m / (1 - w ** n);
  }
  return out;
}

/* The indices of at most `max` points spread evenly over n, the first and
 * the last always in (as the server thins). */
export function thinIndices(n, max) {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const out = [];
  for (let k = 0; k < max; k++) out.push(Math.round((k * (n - 1)) / (max - 1)));
  return out;
}

export const AXES = {
  step: { label: "step", time: false },
  epoch: { label: "epoch", time: false },
  relative: { label: "time since the first step", time: false },
  wall: { label: "wall-clock time", time: true },
};

/* The time of `step` on a curve (steps ascending, times their Unix
 * times): exact when it holds the step, else interpolated between its
 * neighbours, else the nearest end. null for an empty curve. */
export function timeAtStep(steps, times, step) {
  const n = steps.length;
  if (!n) return null;
  let lo = 0, hi = n - 1;
  if (step <= steps[0]) return times[0];
  if (step >= steps[hi]) return times[hi];
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] <= step) lo = mid;
    else hi = mid;
  }
  if (steps[lo] === step) return times[lo];
  const f = (step - steps[lo]) / (steps[hi] - steps[lo]);
  return times[lo] + f * (times[hi] - times[lo]);
}

/* x of a step for an axis; stepsPerEpoch for "epoch", t0 (the curve's
 * first time) for "relative". */
export function xOfStep(axis, step, time, stepsPerEpoch, t0) {
  switch (axis) {
    case "epoch": return step / stepsPerEpoch;
    case "relative": return time - t0;
    case "wall": return time;
    default: return step;
  }
}

/* 75 -> "1:15", 3725 -> "1:02:05": relative seconds on an axis; with
 * ticks closer than a second, seconds with decimals ("0.25 s"). */
export function clock(s, incr = 1) {
  if (s == null || !Number.isFinite(s)) return "";
  if (incr < 1) return `${s.toFixed(Math.min(3, Math.ceil(-Math.log10(incr))))} s`;
  const neg = s < 0 ? "-" : "";
  s = Math.abs(Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${neg}${h ? `${h}:` : ""}${mm}:${String(sec).padStart(2, "0")}`;
}
