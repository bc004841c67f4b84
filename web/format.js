// format.js - how the page writes numbers, durations, times, layer shapes
// and layer rows, and the time figures of a job computed from its object:
// elapsed wall time and, for a running job, an estimate of the time left.
// Pure functions; the runs table, the job view, the layer editor and the
// runs CSV share them.

export const fmt = {
  rate: (v) => (v == null ? "–" : v >= 1e4 ? `${(v / 1000).toFixed(0)}k` : v.toFixed(0)),
  loss: (v) => (v == null ? "–" : v < 0.001 ? v.toExponential(2) : v.toFixed(4)),
  pct: (v) => (v == null ? "–" : `${(100 * v).toFixed(1)} %`),
};

/* 42 s, 3m 05s, 2h 07m: seconds as a person reads them. */
export function duration(s) {
  if (s == null || !Number.isFinite(s)) return "–";
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, "0")}m`;
}

/* An ISO 8601 time of the API as Unix seconds, or null. */
export function unixTime(iso) {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t / 1000 : null;
}

/*
 * A job's time figures at Unix time `now` (seconds):
 *   elapsed - the job's elapsed_seconds (time spent training, pauses
 *             excluded) where the server sends it, else the wall time from
 *             started_at to finished_at (or now); null for a job that
 *             never started;
 *   left    - for a running job, the steps still to go at the current
 *             samples/s (batch_size samples a step; the test-set passes at
 *             each epoch's end are not in it, so it is a little short),
 *             or, before a rate is known, elapsed scaled by the steps to go.
 * started_at and finished_at are to the second; elapsed_seconds is not.
 */
export function jobTiming(job, now) {
  const started = unixTime(job.started_at);
  const finished = unixTime(job.finished_at);
  const elapsed = started == null ? null
    : typeof job.elapsed_seconds === "number" ? job.elapsed_seconds
    : Math.max(0, (finished ?? now) - started);
  let left = null;
  const p = job.progress || {};
  if (job.state === "running" && p.steps > 0) {
    const stepsLeft = Math.max(0, p.steps - p.step);
    const rate = job.latest && job.latest.samples_per_second;
    const batch = job.config && job.config.batch_size;
    if (rate > 0 && batch > 0) left = (stepsLeft * batch) / rate;
    else if (elapsed != null && p.step > 0) left = (elapsed * stepsLeft) / p.step;
  }
  return { elapsed, left };
}

/* Why a finished job stopped, when it did not complete: its error, or for
 * a cancelled one (cancel and delete are the only ways) where it was. */
export function stopReason(job) {
  if (job.state === "failed") return `Failed: ${job.error || "no reason recorded"}`;
  if (job.state !== "cancelled") return job.error || "";
  const p = job.progress || {};
  return job.error || `Cancelled on request at step ${p.step} of ${p.steps} (epoch ${p.epoch} of ${p.epochs}).`;
}

/* A shape [C, H, W] as the page writes it: 8×28×28, or 32 for a vector. */
export function shapeText(s) {
  if (!s) return "–";
  return s[1] === 1 && s[2] === 1 ? String(s[0]) : s.join("×");
}

/* A row of a job's config.layers (the server's echo, every key given) in
 * a few characters: conv8k5p2, conv16k3s2, maxpool2, maxpool3s2, dense32;
 * the activation after a slash when it is not the job's. */
export function rowText(r, jobActivation) {
  let t;
  if (r.type === "conv") t = `conv${r.filters}k${r.kernel}${r.stride > 1 ? `s${r.stride}` : ""}${r.padding ? `p${r.padding}` : ""}`;
  else if (r.type === "maxpool") t = `maxpool${r.size}${r.stride && r.stride !== r.size ? `s${r.stride}` : ""}`;
  else if (r.type === "dense") t = `dense${r.units}`;
  else return JSON.stringify(r);
  return r.activation && r.activation !== jobActivation ? `${t}/${r.activation}` : t;
}
