// compare.test.mjs - the dashboard as the place to compare runs: Debian's
// chromium (driven by playwright-core) on a real `traind serve` started
// here on an ephemeral port with a temporary state directory and the
// repository's digits. Fifty-two one-step jobs and four small real ones
// (named "cmp ...", one with a comma and quotes in its name) give a list
// longer than a page. One scenario, in order: the list paged 50 at a time
// (no request asks for more) with "Show more"; filtering by words and
// option=value, and the option columns being exactly those that differ;
// sorting by best accuracy (checked against every job's epochs from the
// API) and by an option; elapsed time and time left of the running job;
// overlaying ticked runs; smoothing (the debiased EMA the page draws equals
// one computed here over every point the API has, not over the thinned
// points drawn); the four x axes (step, epoch, relative and wall-clock
// time, checked point by point against the API); the curve's CSV and the
// runs table's CSV downloaded from the page and checked row by row against
// the API; a cancelled job saying why; Delete asking first; and the same
// page at 390x844. Any console error or page error fails it. Screenshots
// at 1280x800 and 390x844 go to tests/browser/screenshots/ (compare-*).
//
// Environment: TRAIND (the binary, default ../../traind), TRAIND_TEST_DATA
// (default ../../data), CHROMIUM (default /usr/bin/chromium).

import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { launchChromium, spawnTraind } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const top = resolve(here, "../..");
const TRAIND = process.env.TRAIND || join(top, "traind");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = join(here, "screenshots");
const FILLERS = 52;
const PAGE = 50;
const BASE = { hidden: [16], augment: "none", workers: 1, seed: 1, optimizer: "sgd" };
const RUNS = [
  { ...BASE, name: 'cmp "a", sgd', epochs: 3, batch_size: 8, learning_rate: 0.05 },
  { ...BASE, name: "cmp-b", epochs: 3, batch_size: 8, learning_rate: 0.02 },
  { ...BASE, name: "cmp-c", hidden: [32], epochs: 2, batch_size: 16, optimizer: "adam", learning_rate: 0.001 },
  { ...BASE, name: "cmp-long", hidden: [64], epochs: 200, batch_size: 32, learning_rate: 0.01 },
];

let daemon, baseUrl, stateDir, browser, desktop, phone;
const problems = []; // console and page errors: none is expected

/* ---- the daemon and its API --------------------------------------------- */

function startDaemon() {
  const d = spawnTraind("traind-compare-", []);
  daemon = d.proc;
  stateDir = d.stateDir;
  return d.url;
}

async function getJson(path) {
  const res = await fetch(baseUrl + path);
  assert.equal(res.status, 200, `GET ${path}: ${res.status}`);
  return res.json();
}

async function createJob(body) {
  const res = await fetch(`${baseUrl}/v1/jobs`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text).id;
}

async function waitApiState(id, states, ms = 120000) {
  for (const until = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 100))) {
    const job = await getJson(`/v1/jobs/${id}`);
    if (states.includes(job.state)) return job;
    assert.ok(Date.now() < until, `job ${id} is ${job.state}, not ${states}`);
  }
}

/* Every point and epoch the API has for a job. */
const curve = (id) => getJson(`/v1/jobs/${id}/metrics?max_points=100000`);

function bestAccuracy(m) {
  const accs = m.epochs.map((e) => e.test_accuracy).filter((a) => a != null);
  return accs.length ? Math.max(...accs) : null;
}

/* The debiased EMA, written here independently of the page's. */
function emaHere(values, w) {
  let m = 0;
  return values.map((v, i) => {
    m = w * m + (1 - w) * v;
    return m / (1 - w ** (i + 1));
  });
}

/* RFC 4180: quoted fields with doubled quotes, CRLF records. */
function parseCsv(text) {
  const rows = [];
  let row = [], field = "", i = 0, quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), (i += 2);
      else if (c === '"') (quoted = false), i++;
      else (field += c), i++;
    } else if (c === '"' && field === "") (quoted = true), i++;
    else if (c === ",") row.push(field), (field = ""), i++;
    else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      (row = []), (field = ""), (i += 2);
    } else {
      assert.notEqual(c, "\n", "a bare LF ends a record: CRLF expected");
      (field += c), i++;
    }
  }
  assert.equal(field + row.join(""), "", "the last record lacks its CRLF");
  const [header, ...body] = rows;
  return { header, rows: body.map((r) => Object.fromEntries(header.map((h, k) => [h, r[k]]))) };
}

const configText = (v) => (Array.isArray(v) ? (v.length ? v.join(",") : "none") : String(v));
const num = (s) => (s === "" ? null : Number(s));

/* ---- the browser -------------------------------------------------------- */

function watch(page, label) {
  page.on("console", (msg) => msg.type() === "error" && problems.push(`${label} console: ${msg.text()}`));
  page.on("pageerror", (err) => problems.push(`${label} page error: ${err.message}`));
}

async function openPage(context, label) {
  const page = await context.newPage();
  watch(page, label);
  await page.goto(`${baseUrl}/`);
  await page.locator("#jobs-table tbody tr").first().waitFor();
  return page;
}

const row = (page, id) => page.locator(`#jobs-table tr[data-id="${id}"]`);
const rowIds = (page) => page.locator("#jobs-table tbody tr").evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
const chart = (page) => page.evaluate(async () =>
  (await import(new URL("static/curves.js", document.baseURI).href)).chartState());

async function shoot(page, name) {
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

async function setSmoothing(page, w) {
  await page.locator("#smoothing").evaluate((el, v) => {
    el.value = String(v);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }, w);
  await page.waitForFunction((v) => document.getElementById("loss-figure").dataset.smoothing === String(v), w);
}

async function setAxis(page, axis) {
  await page.selectOption("#x-axis", axis);
  await page.waitForFunction((a) => document.getElementById("loss-figure").dataset.axis === a, axis);
}

async function filter(page, text, rows) {
  await page.fill("#runs-filter", text);
  await page.waitForFunction((n) => document.querySelectorAll("#jobs-table tbody tr").length === n, rows);
}

/* The downloaded file of a click: its suggested name and text. */
async function downloadOf(page, selector) {
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
  const path = join(stateDir, `dl-${Date.now()}`);
  await dl.saveAs(path);
  return { name: dl.suggestedFilename(), text: readFileSync(path, "utf8") };
}

/* ---- the scenario ------------------------------------------------------- */

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  baseUrl = await startDaemon();
  browser = await launchChromium();
  desktop = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, acceptDownloads: true });
});

after(async () => {
  await browser?.close();
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((ok) => daemon.once("exit", ok));
    daemon.kill("SIGTERM");
    await exited; // it writes its state until it stops
  }
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

test("the dashboard compares runs", { timeout: 300000 }, async () => {
  // The oldest jobs: one step each, more than a page of them.
  for (let i = 0; i < FILLERS; i++)
    await createJob({ name: `filler-${i}`, hidden: [], epochs: 1, batch_size: 8000, augment: "none", workers: 1 });
  const ids = [];
  for (const r of RUNS) ids.push(await createJob(r));
  const [A, B, C, LONG] = ids;
  for (const id of [A, B, C]) await waitApiState(id, ["completed"]);
  await waitApiState(LONG, ["running"]);
  const total = FILLERS + RUNS.length;

  // Paged: 50 rows, then all of them; no request asks for more than a page.
  const page = await openPage(desktop, "desktop");
  const listRequests = [];
  page.on("request", (req) => {
    const u = new URL(req.url());
    if (u.pathname === "/v1/jobs" && req.method() === "GET") listRequests.push(u.searchParams);
  });
  await page.waitForFunction((n) => document.querySelectorAll("#jobs-table tbody tr").length === n, PAGE);
  await page.locator("#runs-count", { hasText: `${total} jobs on the server` }).waitFor();
  await page.click("#runs-more");
  await page.waitForFunction((n) => document.querySelectorAll("#jobs-table tbody tr").length === n, total);
  assert.ok(await page.locator("#runs-more").isHidden(), "Show more stays after the last page");
  assert.ok(listRequests.some((q) => q.get("cursor")), "no page was asked by cursor");
  for (const q of listRequests) assert.ok(Number(q.get("limit")) <= PAGE, `a list request asked limit=${q.get("limit")}`);
  const { jobs: apiAll } = await getJson(`/v1/jobs?limit=1000`);
  assert.deepEqual(await rowIds(page), apiAll.map((j) => j.id), "the table is not the list, newest first");

  // Filter: words and option=value; the option columns are those that differ.
  await filter(page, "cmp", 4);
  const cmpJobs = apiAll.filter((j) => ids.includes(j.id));
  const keys = Object.keys(cmpJobs[0].config).filter((k) => k !== "name");
  const differ = keys.filter((k) => new Set(cmpJobs.map((j) => configText(j.config[k]))).size > 1);
  assert.deepEqual(differ.sort(), ["batch_size", "epochs", "hidden", "learning_rate", "optimizer"]);
  const configCols = () => page.locator("#jobs-table thead th[data-key^='config.']")
    .evaluateAll((ths) => ths.map((th) => th.dataset.key.slice(7)));
  assert.deepEqual((await configCols()).sort(), differ);
  await page.check("#runs-all-config");
  assert.deepEqual(await configCols(), keys);
  await page.uncheck("#runs-all-config");
  await filter(page, "cmp optimizer=adam", 1);
  assert.deepEqual(await rowIds(page), [C]);
  await filter(page, "CMP", 4);

  // Sort by best test accuracy, from every epoch of the finished jobs.
  const best = new Map();
  for (const id of [A, B, C]) best.set(id, bestAccuracy(await curve(id)));
  await page.waitForFunction((finished) => finished.every((id) =>
    document.querySelector(`#jobs-table tr[data-id="${id}"] td[data-key="best"]`).textContent !== "–"), [A, B, C]);
  await page.click('#jobs-table th[data-key="best"] button');
  assert.equal(await page.getAttribute('#jobs-table th[data-key="best"]', "aria-sort"), "descending");
  const byBest = [A, B, C].sort((x, y) => best.get(y) - best.get(x));
  const finishedOrder = async () => (await rowIds(page)).filter((id) => id !== LONG);
  assert.deepEqual(await finishedOrder(), byBest);
  for (const id of [A, B, C])
    assert.equal(await row(page, id).locator('td[data-key="best"]').textContent(), `${(100 * best.get(id)).toFixed(1)} %`);
  await page.click('#jobs-table th[data-key="best"] button');
  assert.equal(await page.getAttribute('#jobs-table th[data-key="best"]', "aria-sort"), "ascending");
  assert.deepEqual(await finishedOrder(), [...byBest].reverse());
  // ...and by an option, numerically.
  await page.click('#jobs-table th[data-key="config.learning_rate"] button');
  assert.deepEqual(await rowIds(page), [C, LONG, B, A]);
  await shoot(page, "compare-desktop-1280x800-runs.png");

  // The running job: elapsed time and an estimate of the time left.
  const timing = await page.evaluate(async () => {
    const f = await import(new URL("static/format.js", document.baseURI).href);
    const t0 = Date.parse("2026-01-01T00:00:00Z") / 1000;
    return f.jobTiming({
      state: "running", started_at: "2026-01-01T00:00:00Z", finished_at: null,
      progress: { step: 250, steps: 1000, epoch: 1, epochs: 4 }, config: { batch_size: 10 },
      latest: { samples_per_second: 100 },
    }, t0 + 30);
  });
  assert.deepEqual(timing, { elapsed: 30, left: 75 }); // 750 steps x 10 samples at 100/s
  const timeCell = row(page, LONG).locator('td[data-key="time"]');
  await page.waitForFunction((id) => {
    const td = document.querySelector(`#jobs-table tr[data-id="${id}"] td[data-key="time"]`);
    return td.dataset.left !== "" && Number(td.dataset.left) > 0;
  }, LONG);
  assert.match(await timeCell.textContent(), /left/);
  await row(page, LONG).locator(".col-show input").check();
  await page.locator("#job-view-text", { hasText: "left" }).waitFor();
  assert.match(await page.locator("#job-view-text").textContent(), /cmp-long · running · epoch \d+\/200 · .+ elapsed · about .+ left/);

  // Overlay: A shown, B and C ticked.
  await row(page, A).locator(".col-show input").check();
  await row(page, B).locator(".col-compare input").check();
  await row(page, C).locator(".col-compare input").check();
  await page.waitForFunction((want) => document.getElementById("loss-figure").dataset.jobs === want, [A, B, C].join(","));
  await page.waitForFunction(() => document.querySelectorAll("#loss-chart .u-legend .u-series").length === 4);
  await page.waitForFunction(() => document.querySelectorAll("#acc-chart .u-legend .u-series").length === 7);

  // Smoothing: the page's EMA runs over every point, before thinning.
  const mA = await curve(A);
  const steps = mA.points.map((p) => p[0]), times = mA.points.map((p) => p[1]), losses = mA.points.map((p) => p[2]);
  assert.equal(steps.length, 3000);
  await page.waitForFunction((n) => {
    const f = document.getElementById("loss-figure");
    return Number(f.dataset.points) >= n;
  }, steps.length);
  await setSmoothing(page, 0.9);
  await page.waitForFunction(() => document.querySelectorAll("#loss-chart .u-legend .u-series").length === 7);
  let s = await chart(page);
  let a = s.loss.find((c) => c.id === A);
  assert.equal(a.rawCount, steps.length, "the smoothing did not see every point");
  assert.ok(a.x.length < steps.length && a.x.length >= 400, `drawn ${a.x.length} of ${steps.length}`);
  const full = emaHere(losses, 0.9);
  const at = new Map(steps.map((st, i) => [st, i]));
  for (let k = 0; k < a.steps.length; k++) {
    const i = at.get(a.steps[k]);
    assert.ok(i !== undefined, `drawn step ${a.steps[k]} is not in the API's curve`);
    assert.equal(a.raw[k], losses[i]);
    assert.ok(Math.abs(a.smooth[k] - full[i]) <= 1e-12 * Math.abs(full[i]), `EMA at step ${a.steps[k]}: ${a.smooth[k]} vs ${full[i]}`);
  }
  assert.ok(Math.abs(a.smooth[0] - losses[0]) <= 1e-12 * losses[0], "not debiased: the first smoothed value is not the first loss");
  const onThinned = emaHere(a.raw, 0.9);
  assert.ok(a.smooth.some((v, k) => Math.abs(v - onThinned[k]) > 1e-4), "the EMA equals one over the thinned points");
  const legend = await page.locator("#loss-chart .u-legend .u-series").allTextContents();
  assert.ok(legend.some((t) => t.includes(`${A}) raw`)), `no faint raw curve in ${legend}`);
  await shoot(page, "compare-desktop-1280x800-smoothed.png");

  // The x axes, point by point.
  const spe = 1000; // 8000 samples / batch 8
  await setAxis(page, "epoch");
  s = await chart(page);
  a = s.loss.find((c) => c.id === A);
  for (let k = 0; k < a.x.length; k++) assert.equal(a.x[k], a.steps[k] / spe);
  assert.equal(a.x.at(-1), 3);
  assert.deepEqual(s.acc.find((c) => c.id === A).x, [1, 2, 3]);
  await setAxis(page, "relative");
  s = await chart(page);
  a = s.loss.find((c) => c.id === A);
  assert.equal(a.x[0], 0);
  for (let k = 0; k < a.x.length; k++) assert.equal(a.x[k], times[at.get(a.steps[k])] - times[0]);
  const epochTimes = mA.epochs.map((e) => times[at.get(e.step)] - times[0]);
  assert.deepEqual(s.acc.find((c) => c.id === A).x, epochTimes);
  assert.equal(s.timeScale, false);
  await shoot(page, "compare-desktop-1280x800-relative.png");
  await setAxis(page, "wall");
  s = await chart(page);
  a = s.loss.find((c) => c.id === A);
  assert.equal(s.timeScale, true);
  for (let k = 0; k < a.x.length; k++) assert.equal(a.x[k], times[at.get(a.steps[k])]);
  await setAxis(page, "step");
  s = await chart(page);
  a = s.loss.find((c) => c.id === A);
  assert.deepEqual(a.x, a.steps);
  assert.deepEqual(s.acc.find((c) => c.id === A).x, mA.epochs.map((e) => e.step));

  // The curve as CSV, from the page's link, against the API.
  const csv = await downloadOf(page, "#metrics-csv");
  assert.equal(csv.name, `${A}-metrics.csv`);
  const m = parseCsv(csv.text);
  assert.deepEqual(m.header, ["job", "name", "kind", "step", "time", "loss", "epoch", "train_loss", "test_loss",
    "train_accuracy", "test_accuracy", "seconds", "samples_per_second"]);
  const points = m.rows.filter((r) => r.kind === "point"), epochs = m.rows.filter((r) => r.kind === "epoch");
  assert.equal(points.length + epochs.length, m.rows.length);
  assert.equal(points.length, mA.points.length);
  points.forEach((r, i) => {
    const [st, t, loss] = mA.points[i];
    assert.equal(r.job, A);
    assert.equal(r.name, RUNS[0].name);
    assert.equal(Number(r.step), st);
    assert.equal(Number(r.time), t);
    assert.equal(Math.fround(Number(r.loss)), Math.fround(loss));
  });
  assert.equal(epochs.length, mA.epochs.length);
  epochs.forEach((r, i) => {
    const e = mA.epochs[i];
    for (const k of ["epoch", "step", "train_loss", "test_loss", "train_accuracy", "test_accuracy"])
      assert.equal(num(r[k]), e[k], `epoch ${e.epoch} ${k}`);
    assert.equal(Number(r.time), times[at.get(e.step)]);
  });

  // The runs table as CSV: the rows shown, in the order shown.
  const runsFile = await downloadOf(page, "#runs-export");
  assert.equal(runsFile.name, "traind-runs.csv");
  const runs = parseCsv(runsFile.text);
  for (const k of keys) assert.ok(runs.header.includes(k), `the runs CSV lacks option ${k}`);
  assert.deepEqual(runs.rows.map((r) => r.id), await rowIds(page));
  const { jobs: apiNow } = await getJson(`/v1/jobs?limit=1000`);
  for (const r of runs.rows) {
    const j = apiNow.find((x) => x.id === r.id);
    assert.equal(r.name, j.name);
    for (const k of keys) assert.equal(r[k], configText(j.config[k]), `${r.id} ${k}`);
    if (r.id === LONG) continue; // still training
    assert.equal(r.state, j.state);
    assert.equal(num(r.last_test_accuracy), j.latest.test_accuracy);
    assert.equal(num(r.best_test_accuracy), best.get(r.id));
    assert.equal(r.finished_at, j.finished_at);
  }

  // A cancelled job says why, in the table and in the job view.
  await row(page, LONG).locator('button[data-action="cancel"]').click();
  await row(page, LONG).locator('.badge[data-state="cancelled"]').waitFor({ timeout: 30000 });
  await row(page, LONG).locator(".job-error", { hasText: "Cancelled on request at step" }).waitFor();
  await row(page, LONG).locator(".col-show input").check();
  await page.locator("#job-view-why", { hasText: "Cancelled on request" }).waitFor();

  // Delete asks first: keeping it keeps it; confirming deletes it.
  const dialog = page.locator("#confirm-dialog");
  await row(page, B).locator('button[data-action="delete"]').click();
  await dialog.waitFor({ state: "visible" });
  assert.match(await page.locator("#confirm-title").textContent(), /cmp-b/);
  await shoot(page, "compare-desktop-1280x800-delete.png");
  await page.click("#confirm-no");
  await dialog.waitFor({ state: "hidden" });
  await page.waitForTimeout(1200); // a poll or so
  assert.equal((await fetch(`${baseUrl}/v1/jobs/${B}`)).status, 200, "Keep deleted the job");
  assert.equal(await row(page, B).count(), 1);
  await row(page, B).locator('button[data-action="delete"]').click();
  await dialog.waitFor({ state: "visible" });
  await page.click("#confirm-yes");
  await row(page, B).waitFor({ state: "detached" });
  assert.equal((await fetch(`${baseUrl}/v1/jobs/${B}`)).status, 404);

  // A phone: cards, a sort picker instead of the head row, nothing wider than the screen.
  const mobile = await openPage(phone, "phone");
  await filter(mobile, "cmp", 3);
  assert.ok(await mobile.locator("#runs-sort").isVisible());
  await mobile.selectOption("#runs-sort", "config.learning_rate");
  assert.deepEqual(await rowIds(mobile), [C, LONG, A]);
  await row(mobile, A).locator(".col-compare input").check();
  await mobile.waitForFunction(() => document.getElementById("loss-figure").dataset.jobs.split(",").length === 2);
  await setSmoothing(mobile, 0.6);
  const width = await mobile.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the page is ${width} px wide at 390`);
  await shoot(mobile, "compare-phone-390x844.png");

  assert.deepEqual(problems, [], "console or page errors");
});
