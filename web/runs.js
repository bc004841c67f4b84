// runs.js - the runs table: every loaded job with the options that differ
// between the jobs shown (or all of them), best and last test accuracy,
// elapsed time and time left, samples/s and loss; sortable by any column,
// filterable by words and option=value, exportable as CSV. Show selects a
// job, Compare overlays it on the charts; the actions each state allows,
// Delete only after asking.
//
// The list is paged from the API (50 jobs a request): the table holds the
// newest 50 and "Show more" adds pages. It polls about once a second while
// the page is visible: the first page every time, the older ones when the
// first page's cursor moved, when one of their jobs can still change, and
// every tenth poll. Rows are updated in place (focus and checkboxes
// survive a poll) and rebuilt only when the set of columns changes.

import { api } from "./api.js";
import { askConfirm } from "./confirm.js";
import { download, toCsv } from "./csv.js";
import { duration, fmt, jobTiming, rowText, stopReason } from "./format.js";
import { clearNotice, describe, notify } from "./notice.js";
import { FINISHED, select, setCompared, setJobs, store } from "./store.js";
import { bestOf, refreshSummaries } from "./summary.js";

const POLL_MS = 1000;
const PAGE = 50;
const REWALK_EVERY = 10; // polls

/* Which buttons a state enables (the contract's legal transitions). */
const ACTIONS = [
  { verb: "pause", label: "Pause", states: ["queued", "running"] },
  { verb: "resume", label: "Resume", states: ["paused"] },
  { verb: "cancel", label: "Cancel", states: ["queued", "running", "paused"] },
  { verb: "delete", label: "Delete", states: ["queued", "running", "paused", "completed", "failed", "cancelled"] },
];

const rows = new Map(); // job id -> { tr, cells: {key: td}, radio, box, bar, text }
const view = { sort: null, dir: 1, filter: [], allConfig: false, columns: "" };
const paging = { shown: PAGE, rest: [], restNext: null, headNext: undefined, polls: 0, grow: false };
let timer = null;
const now = () => Date.now() / 1000;

/* ---- columns ---------------------------------------------------------- */

const isRows = (v) => Array.isArray(v) && v.some((x) => x !== null && typeof x === "object");

/* An option's value as the table writes it: a list as 128,64 ("none" when
 * empty), layer rows as conv8k5p2 maxpool2 dense32 (see rowText). */
export function configText(v, config = {}) {
  if (isRows(v)) return v.map((r) => rowText(r, config.activation)).join(" ");
  if (Array.isArray(v)) return v.length ? v.join(",") : "none";
  return v == null ? "" : String(v);
}

/* The same in the CSV export, layer rows as the JSON the server takes. */
function csvText(v) {
  return isRows(v) ? JSON.stringify(v) : configText(v);
}

const BEFORE = [
  { key: "show", label: "Show", title: "Show this job's curves and confusion matrix", cls: "col-show" },
  { key: "compare", label: "Compare", title: "Overlay this job on the charts", cls: "col-compare" },
  { key: "name", label: "Job", cls: "col-name", value: (j) => j.name.toLowerCase() },
  { key: "state", label: "State", cls: "col-state", value: (j) => j.state },
  { key: "progress", label: "Progress", cls: "col-progress", value: (j) => (j.progress.steps ? j.progress.step / j.progress.steps : 0) },
];
const AFTER = [
  { key: "best", label: "Best test acc.", title: "The best test accuracy of its epochs", cls: "num", value: (j) => bestOf(j.id), text: (j) => fmt.pct(bestOf(j.id)) },
  { key: "last", label: "Last test acc.", title: "The test accuracy of its last epoch", cls: "num", value: (j) => j.latest.test_accuracy, text: (j) => fmt.pct(j.latest.test_accuracy) },
  { key: "time", label: "Time", title: "Wall time since it started (pauses included) and, while it runs, an estimate of the time left", cls: "num col-time", value: (j) => jobTiming(j, now()).elapsed },
  { key: "rate", label: "Samples/s", cls: "num", value: (j) => j.latest.samples_per_second, text: (j) => fmt.rate(j.latest.samples_per_second) },
  { key: "loss", label: "Loss", title: "The latest training loss", cls: "num", value: (j) => j.latest.loss, text: (j) => fmt.loss(j.latest.loss) },
  { key: "actions", label: "Actions", cls: "col-actions" },
];

function configColumn(k, numeric) {
  return {
    key: `config.${k}`,
    label: k,
    title: `Job option ${k}`,
    cls: numeric ? "num col-config" : "col-config",
    value: (j) => (Array.isArray(j.config[k]) ? configText(j.config[k], j.config) : j.config[k]),
    text: (j) => configText(j.config[k], j.config),
  };
}

/* The option keys in the API's order, and those whose values differ. */
function configKeys(jobs) {
  const keys = [];
  for (const j of jobs) for (const k of Object.keys(j.config || {})) if (k !== "name" && !keys.includes(k)) keys.push(k);
  const differ = keys.filter((k) => new Set(jobs.map((j) => configText(j.config[k], j.config))).size > 1);
  return { keys, differ };
}

function columnsFor(jobs) {
  const { keys, differ } = configKeys(jobs);
  const shownKeys = view.allConfig ? keys : differ;
  const numeric = (k) => jobs.some((j) => typeof j.config[k] === "number");
  return [...BEFORE, ...shownKeys.map((k) => configColumn(k, numeric(k))), ...AFTER];
}

/* ---- filter and sort -------------------------------------------------- */

function haystack(job) {
  const parts = [job.name, job.id, job.state];
  for (const [k, v] of Object.entries(job.config || {})) parts.push(`${k}=${configText(v, job.config)}`);
  return parts.join(" ").toLowerCase();
}

/* Every word of the filter must occur in the name, id, state or an
 * option=value of the job. */
function matches(job) {
  if (!view.filter.length) return true;
  const h = haystack(job);
  return view.filter.every((w) => h.includes(w));
}

function compare(a, b) {
  const an = a == null || (typeof a === "number" && !Number.isFinite(a));
  const bn = b == null || (typeof b === "number" && !Number.isFinite(b));
  if (an || bn) return an === bn ? 0 : an ? 1 : -1; // unknown values last, either way
  if (typeof a === "number" && typeof b === "number") return (a - b) * view.dir;
  return String(a).localeCompare(String(b), undefined, { numeric: true }) * view.dir;
}

/* The jobs the table shows, in the order it shows them. */
export function shownJobs() {
  const jobs = store.jobs.filter(matches);
  const col = view.sort && allColumns(jobs).find((c) => c.key === view.sort);
  if (!col || !col.value) return jobs;
  const order = new Map(store.jobs.map((j, i) => [j.id, i]));
  return jobs
    .map((j) => [j, col.value(j)])
    .sort((x, y) => compare(x[1], y[1]) || order.get(x[0].id) - order.get(y[0].id))
    .map(([j]) => j);
}

/* Sorting may use any option, shown or not. */
function allColumns(jobs) {
  const { keys } = configKeys(jobs);
  return [...BEFORE, ...keys.map((k) => configColumn(k, jobs.some((j) => typeof j.config[k] === "number"))), ...AFTER];
}

/* ---- rendering -------------------------------------------------------- */

function buildHead(columns) {
  const tr = document.querySelector("#jobs-table thead tr");
  tr.innerHTML = "";
  for (const c of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.dataset.key = c.key;
    if (c.cls) th.className = c.cls;
    if (c.title) th.title = c.title;
    const into = c.value ? document.createElement("button") : th;
    // Option names may break after an underscore (learning_<wbr>rate).
    c.label.split("_").forEach((part, i, all) => {
      into.append(i < all.length - 1 ? `${part}_` : part);
      if (i < all.length - 1) into.append(document.createElement("wbr"));
    });
    if (c.value) {
      into.type = "button";
      into.className = "sort";
      into.addEventListener("click", () => sortBy(c.key));
      th.append(into);
    }
    tr.append(th);
  }
}

/* The sort picker of narrow screens, where the table has no head row. */
function buildSortPick(columns) {
  const pick = document.getElementById("runs-sort");
  pick.innerHTML = "";
  pick.append(new Option("newest first", ""));
  for (const c of columns) if (c.value) pick.append(new Option(c.label, c.key));
}

function showSort() {
  document.getElementById("runs-sort").value = view.sort || "";
  for (const th of document.querySelectorAll("#jobs-table thead th")) {
    const on = th.dataset.key === view.sort;
    if (on) th.setAttribute("aria-sort", view.dir > 0 ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
  }
}

function sortBy(key) {
  if (view.sort === key) view.dir = -view.dir;
  else {
    view.sort = key;
    // Figures people compare read best first: accuracies and rates high
    // to low, loss low to high; names and options A to Z.
    view.dir = ["best", "last", "rate", "progress"].includes(key) ? -1 : 1;
  }
  render();
}

function cell(tr, c) {
  const td = document.createElement("td");
  td.dataset.label = c.label;
  td.dataset.key = c.key;
  if (c.cls) td.className = c.cls;
  tr.append(td);
  return td;
}

function buildRow(job, columns) {
  const tr = document.createElement("tr");
  tr.dataset.id = job.id;
  const r = { tr, cells: {} };
  for (const c of columns) r.cells[c.key] = cell(tr, c);

  r.radio = document.createElement("input");
  r.radio.type = "radio";
  r.radio.name = "selected-job";
  r.radio.setAttribute("aria-label", `Show job ${job.name}`);
  r.radio.addEventListener("change", () => select(job.id));
  r.cells.show.append(r.radio);

  r.box = document.createElement("input");
  r.box.type = "checkbox";
  r.box.setAttribute("aria-label", `Overlay job ${job.name} on the charts`);
  r.box.addEventListener("change", () => setCompared(job.id, r.box.checked));
  r.cells.compare.append(r.box);

  r.bar = document.createElement("progress");
  r.bar.max = 1;
  r.text = document.createElement("span");
  r.text.className = "progress-text";
  r.cells.progress.append(r.bar, r.text);

  r.buttons = {};
  for (const a of ACTIONS) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = a.label;
    b.dataset.action = a.verb;
    b.className = a.verb === "delete" ? "danger" : "";
    b.setAttribute("aria-label", `${a.label} job ${job.name}`);
    b.addEventListener("click", () => act(job.id, a.verb));
    r.cells.actions.append(b);
    r.buttons[a.verb] = b;
  }
  tr.addEventListener("click", (ev) => {
    if (!ev.target.closest("button, input, a")) select(job.id);
  });
  return r;
}

function renderName(td, job) {
  td.innerHTML = "";
  const strong = document.createElement("strong");
  strong.textContent = job.name;
  td.append(strong);
  if (job.name !== job.id) {
    const small = document.createElement("small");
    small.textContent = job.id;
    td.append(small);
  }
  const why = job.state === "failed" || job.state === "cancelled" ? stopReason(job) : job.error;
  if (why) {
    const err = document.createElement("div");
    err.className = "job-error";
    err.textContent = why;
    td.append(err);
  }
}

function renderTime(td, job) {
  const { elapsed, left } = jobTiming(job, now());
  td.dataset.elapsed = elapsed == null ? "" : String(elapsed);
  td.dataset.left = left == null ? "" : String(left);
  td.textContent = elapsed == null ? "–" : duration(elapsed);
  if (left != null) {
    const small = document.createElement("small");
    small.className = "eta";
    small.textContent = `~${duration(left)} left`;
    td.append(small);
  } else if (job.state === "paused") {
    const small = document.createElement("small");
    small.className = "eta";
    small.textContent = "paused";
    td.append(small);
  }
}

function updateRow(r, job, columns) {
  const { cells } = r;
  r.tr.dataset.state = job.state;
  r.tr.classList.toggle("selected", store.selected === job.id);
  r.tr.classList.toggle("compared", store.compared.has(job.id));
  r.radio.checked = store.selected === job.id;
  r.box.checked = store.compared.has(job.id);
  renderName(cells.name, job);
  cells.state.innerHTML = `<span class="badge" data-state="${job.state}"></span>`;
  cells.state.firstChild.textContent = job.state;
  const p = job.progress;
  r.bar.value = p.steps ? p.step / p.steps : 0;
  r.text.textContent = `epoch ${p.epoch}/${p.epochs} · step ${p.step}/${p.steps}`;
  r.bar.setAttribute("aria-label", `Job ${job.name}: step ${p.step} of ${p.steps}`);
  renderTime(cells.time, job);
  for (const c of columns) if (c.text) cells[c.key].textContent = c.text(job);
  for (const a of ACTIONS) r.buttons[a.verb].disabled = !a.states.includes(job.state);
  // Pause and Resume share a place: only a paused job shows Resume.
  r.buttons.pause.hidden = job.state === "paused";
  r.buttons.resume.hidden = job.state !== "paused";
}

function render() {
  const jobs = shownJobs();
  const columns = columnsFor(jobs);
  const key = columns.map((c) => c.key).join(" ");
  const body = document.querySelector("#jobs-table tbody");
  if (key !== view.columns) {
    view.columns = key;
    buildHead(columns);
    buildSortPick(columns);
    rows.clear();
    body.innerHTML = "";
  }
  showSort();
  const seen = new Set();
  let before = body.firstChild;
  for (const job of jobs) {
    seen.add(job.id);
    let r = rows.get(job.id);
    if (!r) rows.set(job.id, (r = buildRow(job, columns)));
    if (r.tr !== before) body.insertBefore(r.tr, before);
    before = r.tr.nextSibling;
    updateRow(r, job, columns);
  }
  for (const [id, r] of rows)
    if (!seen.has(id)) {
      r.tr.remove();
      rows.delete(id);
    }
  const loaded = store.jobs.length;
  document.getElementById("jobs-empty").hidden = loaded > 0;
  const count = document.getElementById("runs-count");
  count.textContent = loaded === 0 ? "" :
    `${jobs.length === loaded ? `${loaded}` : `${jobs.length} of ${loaded}`} shown` +
    (store.total > loaded ? ` · ${store.total} jobs on the server, the newest ${loaded} loaded` : "");
  const more = document.getElementById("runs-more");
  more.hidden = !store.more;
  more.textContent = `Show ${Math.min(PAGE, Math.max(0, store.total - loaded)) || PAGE} more`;
  document.getElementById("runs-export").disabled = jobs.length === 0;
}

/* ---- actions ---------------------------------------------------------- */

async function act(id, verb) {
  const job = store.job(id);
  if (verb === "delete") {
    const running = job && !FINISHED.has(job.state);
    const ok = await askConfirm({
      title: `Delete job ${job ? job.name : id}?`,
      message: `Its record, curves, checkpoint and model are removed for good` +
        `${running ? "; it is cancelled first" : ""}. This cannot be undone.`,
      action: "Delete",
    });
    if (!ok) return;
  }
  const r = rows.get(id);
  if (r) for (const b of Object.values(r.buttons)) b.disabled = true;
  try {
    if (verb === "delete") await api.deleteJob(id);
    else await api.jobAction(id, verb);
    clearNotice(`action-${id}`);
  } catch (err) {
    notify(`action-${id}`, `Could not ${verb} job ${id}: ${describe(err)}`);
  }
  await refreshJobs();
}

/* ---- the CSV of the table -------------------------------------------- */

/* Every option (not only the columns shown; their names are the API's, so
 * the figures' names avoid them), the figures and the times, for the rows
 * shown in the order shown. */
export function runsCsv() {
  const jobs = shownJobs();
  const { keys } = configKeys(jobs);
  const header = ["id", "name", "state", "epoch", "step", "steps", ...keys,
    "best_test_accuracy", "last_test_accuracy", "last_train_accuracy", "last_test_loss", "latest_loss",
    "samples_per_second", "created_at", "started_at", "finished_at", "elapsed_seconds",
    "left_seconds", "error"];
  const t = now();
  const rowsOut = jobs.map((j) => {
    const { elapsed, left } = jobTiming(j, t);
    const why = j.state === "failed" || j.state === "cancelled" ? stopReason(j) : j.error;
    return [j.id, j.name, j.state, j.progress.epoch, j.progress.step, j.progress.steps,
      ...keys.map((k) => csvText(j.config[k])), bestOf(j.id), j.latest.test_accuracy,
      j.latest.train_accuracy, j.latest.test_loss, j.latest.loss, j.latest.samples_per_second,
      j.created_at, j.started_at, j.finished_at, elapsed, left == null ? null : Math.round(left), why];
  });
  return toCsv(header, rowsOut);
}

/* ---- polling, with paging --------------------------------------------- */

async function fetchJobs() {
  const head = await api.jobs({ limit: PAGE });
  const p = paging;
  const wantRest = p.shown > PAGE && head.next_cursor;
  const walk = wantRest && (p.grow || head.next_cursor !== p.headNext || p.polls % REWALK_EVERY === 0 ||
    p.rest.some((j) => !FINISHED.has(j.state)));
  if (!wantRest) {
    p.rest = [];
    p.restNext = head.next_cursor;
  } else if (walk) {
    const rest = [];
    let cursor = head.next_cursor;
    while (cursor && PAGE + rest.length < p.shown) {
      const page = await api.jobs({ limit: Math.min(PAGE, p.shown - PAGE - rest.length), cursor });
      rest.push(...page.jobs);
      cursor = page.next_cursor;
    }
    p.rest = rest;
    p.restNext = cursor;
  }
  p.grow = false;
  p.headNext = head.next_cursor;
  p.polls++;
  const ids = new Set(head.jobs.map((j) => j.id));
  const jobs = [...head.jobs, ...p.rest.filter((j) => !ids.has(j.id))];
  return { jobs, total: head.total, more: Boolean(p.restNext) };
}

export async function refreshJobs() {
  try {
    const { jobs, total, more } = await fetchJobs();
    clearNotice("jobs-poll");
    setJobs(jobs, total, more);
    refreshSummaries(jobs);
  } catch (err) {
    paging.headNext = undefined; // walk again from the top
    notify("jobs-poll", `Cannot list the jobs: ${describe(err)} Retrying every second.`);
  }
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (!document.hidden) await refreshJobs();
    schedule();
  }, POLL_MS);
}

export function startRuns() {
  // Summaries arrive one job at a time: one render for a burst of them.
  let pending = null;
  store.subscribe((what) => {
    if (what === "jobs" || what === "selection") render();
    else if (what === "summary" && !pending)
      pending = setTimeout(() => {
        pending = null;
        render();
      }, 50);
  });
  const filter = document.getElementById("runs-filter");
  filter.addEventListener("input", () => {
    view.filter = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    render();
  });
  const all = document.getElementById("runs-all-config");
  all.addEventListener("change", () => {
    view.allConfig = all.checked;
    render();
  });
  const pick = document.getElementById("runs-sort");
  pick.addEventListener("change", () => {
    if (pick.value) sortBy(pick.value);
    else {
      view.sort = null;
      render();
    }
  });
  document.getElementById("runs-sort-dir").addEventListener("click", () => {
    view.dir = -view.dir;
    render();
  });
  document.getElementById("runs-more").addEventListener("click", () => {
    paging.shown += PAGE;
    paging.grow = true;
    refreshJobs();
  });
  document.getElementById("runs-export").addEventListener("click", () => download("traind-runs.csv", runsCsv()));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refreshJobs();
  });
  refreshJobs();
  schedule();
}
