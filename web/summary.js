// summary.js - each loaded job's best test accuracy: the job object's
// latest.best_test_accuracy where the server sends it; from a server
// without it, read from the job's epoch rows (GET /v1/jobs/{id}/metrics
// with max_points=1, so the answer is the rows and one point), two
// requests at a time, and again only when the job's state or last test
// accuracy changed, from the previous answer's cursor.

import { api } from "./api.js";
import { describe, notify, clearNotice } from "./notice.js";
import { store } from "./store.js";

const PARALLEL = 2;
const cache = new Map(); // id -> { best, next, key, queued }
const queue = [];
let running = 0;

/* The best test accuracy seen in a job's epochs, or null. */
export function bestOf(id) {
  const job = store.job(id);
  if (job && job.latest && "best_test_accuracy" in job.latest) return job.latest.best_test_accuracy;
  const c = cache.get(id);
  return c ? c.best : null;
}

function keyOf(job) {
  return `${job.state}:${job.latest.test_accuracy}`;
}

async function fetchOne(id) {
  const c = cache.get(id);
  const job = store.job(id);
  if (!c || !job) return;
  const key = keyOf(job);
  try {
    const m = await api.metrics(id, c.next, 1);
    for (const e of m.epochs)
      if (e.test_accuracy != null && (c.best == null || e.test_accuracy > c.best)) c.best = e.test_accuracy;
    c.next = Math.max(c.next, m.next_step);
    c.key = key;
    clearNotice(`summary-${id}`);
    store.changed("summary");
  } catch (err) {
    if (err.status === 404) cache.delete(id);
    else notify(`summary-${id}`, `Cannot read the epochs of job ${id}: ${describe(err)}`);
  } finally {
    c.queued = false;
  }
}

function pump() {
  while (running < PARALLEL && queue.length) {
    const id = queue.shift();
    running++;
    fetchOne(id).finally(() => {
      running--;
      pump();
    });
  }
}

/* Queues the jobs whose best accuracy may have changed since last read. */
export function refreshSummaries(jobs) {
  const known = new Set();
  for (const job of jobs) {
    known.add(job.id);
    if (job.latest.test_accuracy == null) continue; // no epoch yet
    if ("best_test_accuracy" in job.latest) continue; // the server says
    let c = cache.get(job.id);
    if (!c) cache.set(job.id, (c = { best: null, next: 0, key: "", queued: false }));
    if (!c.queued && c.key !== keyOf(job)) {
      c.queued = true;
      queue.push(job.id);
    }
  }
  for (const id of [...cache.keys()]) if (!known.has(id)) cache.delete(id);
  pump();
}
