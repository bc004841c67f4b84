// dashboard.test.mjs - the dashboard as a person uses it: Debian's chromium
// (driven by playwright-core) on a real `traind serve` started here on an
// ephemeral port with a bearer token, a temporary state directory and the
// repository's digits. One scenario, in order: the new-job form holding a
// field for every option GET /v1/job-options lists, with its label, help,
// values and default; the token dialog on the
// first mutation, a 400 shown beside its field, a job created through the
// form whose untouched fields match the server's defaults, its loss curve
// growing while it trains, pause and resume with the buttons each state
// allows, completion with the confusion matrix, a digit drawn with the
// mouse (desktop) and with a finger (phone) giving ten probabilities that
// sum to 1, the 28x28 image shown being exactly what the server computes,
// and a clear message when the server goes away. Any console error or page
// error not provoked on purpose fails it. Screenshots at 1280x800 and
// 390x844 go to tests/browser/screenshots/.
//
// Environment: TRAIND (the binary, default ../../traind), TRAIND_TEST_DATA
// (default ../../data), CHROMIUM (default /usr/bin/chromium).

import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { launchChromium, spawnTraind } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const top = resolve(here, "../..");
const TRAIND = process.env.TRAIND || join(top, "traind");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = join(here, "screenshots");
const TOKEN = "browser-test-token";
const JOB = { name: "browser-test", hidden: "32", epochs: "30", batch_size: "4", workers: "1", learning_rate: "0.05" };

let daemon, baseUrl, stateDir, browser, desktop, phone;
const problems = []; // console and page errors nobody asked for
const expected = []; // [regex, count] of errors a step provokes on purpose

/* ---- the daemon --------------------------------------------------------- */

function startDaemon() {
  const d = spawnTraind("traind-browser-", ["--token", TOKEN]);
  daemon = d.proc;
  stateDir = d.stateDir;
  return d.url;
}

async function getJson(path) {
  const res = await fetch(baseUrl + path);
  assert.equal(res.status, 200, `GET ${path}: ${res.status}`);
  return res.json();
}

/* ---- the browser -------------------------------------------------------- */

function watch(page, label) {
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    const hit = expected.find(([re, n]) => n > 0 && re.test(text));
    if (hit) hit[1]--;
    else problems.push(`${label} console: ${text}`);
  });
  page.on("pageerror", (err) => problems.push(`${label} page error: ${err.message}`));
}

/* Lets `count` console errors matching `re` through: a step provoking them. */
function expectConsoleError(re, count = 1) {
  expected.push([re, count]);
}

async function openPage(context, label) {
  const page = await context.newPage();
  watch(page, label);
  await page.goto(`${baseUrl}/`);
  await page.locator("#f-hidden").waitFor({ state: "attached" });
  await page.waitForFunction(() => document.querySelectorAll("#f-dataset option").length > 0 &&
    document.getElementById("server-version").textContent !== "");
  return page;
}

function row(page, id) {
  return page.locator(`#jobs-table tr[data-id="${id}"]`);
}

async function buttonsEnabled(page, id) {
  const buttons = row(page, id).locator("button");
  const out = [];
  for (let i = 0; i < (await buttons.count()); i++) {
    const b = buttons.nth(i);
    if (await b.isEnabled()) out.push(await b.getAttribute("data-action"));
  }
  return out.join(",");
}

async function waitState(page, id, state, ms = 60000) {
  await row(page, id).locator(`.badge[data-state="${state}"]`).waitFor({ timeout: ms });
}

const points = (page) => page.locator("#loss-figure").getAttribute("data-points").then(Number);

async function shoot(page, name) {
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

/* The ten bars once a prediction is shown: their probabilities. */
async function probabilities(page) {
  await page.waitForFunction(() => document.querySelectorAll("#probabilities li").length === 10);
  return page.locator("#probabilities li").evaluateAll((lis) => lis.map((li) => Number(li.dataset.p)));
}

function assertDistribution(probs) {
  assert.equal(probs.length, 10);
  for (const p of probs) assert.ok(p >= 0 && p <= 1, `probability ${p}`);
  const sum = probs.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
}

/* A "7" as strokes in the unit square. */
const SEVEN = [[0.25, 0.22], [0.75, 0.22], [0.62, 0.45], [0.5, 0.65], [0.42, 0.82]];

async function drawWithMouse(page) {
  // Coordinates are the viewport's: the canvas must be in view to be hit.
  await page.locator("#draw").scrollIntoViewIfNeeded();
  const box = await page.locator("#draw").boundingBox();
  const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(SEVEN[0]));
  await page.mouse.down();
  for (const p of SEVEN.slice(1)) await page.mouse.move(...at(p), { steps: 8 });
  await page.mouse.up();
}

async function drawWithFinger(page) {
  await page.locator("#draw").scrollIntoViewIfNeeded();
  const box = await page.locator("#draw").boundingBox();
  const cdp = await page.context().newCDPSession(page);
  const touch = (type, [x, y]) => cdp.send("Input.dispatchTouchEvent", {
    type, touchPoints: type === "touchEnd" ? [] : [{ x: box.x + x * box.width, y: box.y + y * box.height }],
  });
  await touch("touchStart", SEVEN[0]);
  for (let i = 1; i < SEVEN.length; i++)
    for (let k = 1; k <= 8; k++) {
      const [a, b] = [SEVEN[i - 1], SEVEN[i]];
      await touch("touchMove", [a[0] + ((b[0] - a[0]) * k) / 8, a[1] + ((b[1] - a[1]) * k) / 8]);
    }
  await touch("touchEnd", SEVEN.at(-1));
  await cdp.detach();
}

/* ---- the scenario ------------------------------------------------------- */

before(async () => {
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  baseUrl = await startDaemon();
  browser = await launchChromium();
  desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
});

after(async () => {
  await browser?.close();
  if (daemon && daemon.exitCode === null) daemon.kill("SIGTERM");
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

test("the dashboard trains, plots, predicts and reports errors", { timeout: 240000 }, async () => {
  const page = await openPage(desktop, "desktop");
  const mobile = await openPage(phone, "phone");

  // The form is built from GET /v1/job-options: a field for every option
  // the server lists and no other, its label, help, values and default;
  // the layer list (a fieldset of rows) sits after the hidden sizes, its
  // alternative, which are the ones shown at first.
  const { options } = await getJson("/v1/job-options");
  const fields = await page.locator("#job-form .fields").evaluate((el) =>
    [...el.querySelectorAll("[data-option]")].map((i) => {
      const set = i.tagName === "FIELDSET";
      return {
        name: i.dataset.option, value: set ? null : i.value, title: i.title,
        label: set ? i.querySelector("legend")?.textContent : document.querySelector(`label[for="${i.id}"]`)?.textContent,
        values: i.tagName === "SELECT" ? [...i.options].map((o) => o.value) : null,
        rows: set ? i.querySelectorAll(".layer-row").length : null,
      };
    }));
  const order = options.map((o) => o.name).filter((n) => n !== "layers");
  order.splice(order.indexOf("hidden") + 1, 0, "layers");
  assert.deepEqual(fields.map((f) => f.name), order, "the form's fields");
  assert.ok(await page.isChecked("#network-hidden"), "the hidden sizes are not the first choice");
  assert.ok(await page.isVisible("#f-hidden") && !(await page.isVisible("#f-layers")));
  for (const o of options) {
    const f = fields.find((x) => x.name === o.name);
    assert.equal(f.label, o.label, `label of ${o.name}`);
    assert.equal(f.title, o.help, `help of ${o.name}`);
    if (o.values) assert.deepEqual(f.values, o.values, `values of ${o.name}`);
    if (o.type === "layers") {
      assert.deepEqual([f.rows, o.default], [0, []], "the layer list starts empty");
      continue;
    }
    const def = o.default === null ? "" : Array.isArray(o.default) ? o.default.join(",") : String(o.default);
    assert.equal(f.value, def, `default of ${o.name}`);
  }
  // A default another option picks follows that option's field.
  const rate = options.find((o) => o.name === "learning_rate");
  const [other, picked] = Object.entries(rate.default_by.values).find(([, v]) => v !== rate.default);
  await page.selectOption(`#f-${rate.default_by.option}`, other);
  assert.equal(Number(await page.inputValue("#f-learning_rate")), picked);
  await page.click("#form-reset");
  assert.equal(Number(await page.inputValue("#f-learning_rate")), rate.default);

  // The first mutation meets the token; the first body has a bad layer size.
  await page.fill("#f-hidden", "32,0");
  expectConsoleError(/status of 401/);
  expectConsoleError(/status of 400/);
  await page.click("#job-form button[type=submit]");
  const dialog = page.locator("#token-dialog");
  await dialog.waitFor({ state: "visible" });
  await page.fill("#token-input", TOKEN);
  await page.click("#token-dialog button[type=submit]");
  await assert.doesNotReject(page.locator("#err-hidden", { hasText: "hidden[1]" }).waitFor());
  assert.equal(await page.getAttribute("#f-hidden", "aria-invalid"), "true");

  // The job, through the form.
  for (const [field, value] of Object.entries(JOB)) await page.fill(`#f-${field}`, value);
  await page.click("#job-form button[type=submit]");
  await page.locator(".notice", { hasText: "Created job browser-test" }).waitFor();
  const { jobs } = await getJson("/v1/jobs");
  assert.equal(jobs.length, 1);
  const id = jobs[0].id;

  // Every field left alone showed the server's own default.
  const shown = await page.locator("#job-form .fields").evaluate((el) =>
    Object.fromEntries([...el.querySelectorAll("[data-option]")].map((i) => [i.dataset.option, i.tagName === "FIELDSET" ? null : i.value])));
  const config = jobs[0].config;
  // ...and every option of the job has its field in the form.
  for (const key of Object.keys(config)) assert.ok(key in shown, `the form has no field for ${key}`);
  for (const [field, value] of Object.entries(shown)) {
    if (field === "name") continue; // empty means "the id"
    if (value === null) { // the layer list, not chosen: the server's default
      assert.deepEqual(config[field], [], `form field ${field}`);
      continue;
    }
    const want = Array.isArray(config[field]) ? config[field].join(",") : config[field];
    assert.equal(typeof want === "number" ? Number(value) : value, want, `form field ${field}`);
  }

  // Pause as soon as it runs (a fast machine finishes this job in seconds),
  // then resume: the buttons follow the state.
  await waitState(page, id, "running");
  assert.equal(await buttonsEnabled(page, id), "pause,cancel,delete");
  await row(page, id).locator('button[data-action="pause"]').click();
  await waitState(page, id, "paused");
  assert.equal(await buttonsEnabled(page, id), "resume,cancel,delete");
  const before = await points(page);
  await row(page, id).locator('button[data-action="resume"]').click();
  await page.waitForFunction((jobId) => {
    const s = document.querySelector(`#jobs-table tr[data-id="${jobId}"]`).dataset.state;
    return s === "running" || s === "completed";
  }, id);

  // The curve grows while it trains.
  await page.waitForFunction((n) => Number(document.getElementById("loss-figure").dataset.points) > n,
    before, { timeout: 30000 });
  await page.check("#log-scale");
  await page.waitForFunction(() => document.querySelectorAll("#loss-chart canvas").length === 1);
  await mobile.waitForFunction(() => Number(document.getElementById("loss-figure").dataset.points) > 0);
  await shoot(page, "desktop-1280x800-training.png");
  await shoot(mobile, "phone-390x844-training.png");

  // Completed: every epoch plotted, the confusion matrix of the test set.
  await waitState(page, id, "completed", 120000);
  assert.equal(await buttonsEnabled(page, id), "delete");
  await page.waitForFunction(() => document.getElementById("acc-figure").dataset.epochs === "30");
  await page.locator("#confusion-table tbody tr").nth(9).waitFor();
  const cells = await page.locator("#confusion-table tbody td").evaluateAll((tds) => tds.map((td) => Number(td.textContent)));
  assert.equal(cells.length, 100);
  assert.equal(cells.reduce((a, b) => a + b, 0), 2000);

  // A second, tiny job overlaid on the first one's curves.
  const res = await fetch(`${baseUrl}/v1/jobs`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ name: "tiny", hidden: [8], epochs: 2 }),
  });
  assert.equal(res.status, 201);
  const tiny = (await res.json()).id;
  await waitState(page, tiny, "completed");
  await row(page, tiny).locator(".col-compare input").check();
  await page.waitForFunction((ids) => document.getElementById("loss-figure").dataset.jobs === ids, `${id},${tiny}`);
  await page.waitForFunction(() => document.querySelectorAll("#loss-chart .u-legend .u-series").length === 3);

  // A digit drawn with the mouse: ten probabilities summing to 1.
  await page.waitForFunction((jobId) => document.getElementById("model").value === jobId, id);
  await drawWithMouse(page);
  assertDistribution(await probabilities(page));
  const ink = await page.locator("#seen").evaluate((c) =>
    c.getContext("2d").getImageData(0, 0, 28, 28).data.some((v, i) => i % 4 === 0 && v > 0));
  assert.ok(ink, "the 28x28 image the model saw is blank");

  // The image shown is the server's: the page's own preprocessing sent as
  // is gives the very probabilities of the server's preprocessing.
  const same = await page.evaluate(async (jobId) => {
    const m = await import(new URL("static/mnist.js", document.baseURI).href);
    const c = document.getElementById("draw");
    const { data } = c.getContext("2d").getImageData(0, 0, c.width, c.height);
    const red = new Uint8Array(c.width * c.height).map((_, i) => data[4 * i]);
    const input = m.resampleArea(red, 0, c.width, c.width, c.height, 28, 28);
    const ask = (pixels, preprocess) => fetch(`v1/models/${jobId}:predict`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${sessionStorage.getItem("traind.token")}` },
      body: JSON.stringify({ instances: [Array.from(pixels)], preprocess }),
    }).then((r) => r.json()).then((j) => j.predictions[0].probabilities);
    return [await ask(input, "mnist"), await ask(m.preprocessMnist(input), "none")];
  }, id);
  assert.deepEqual(same[1], same[0]);
  await shoot(page, "desktop-1280x800-predicted.png");

  // The same drawing as a PNG file, posted raw.
  const png = join(stateDir, "seven.png");
  const dataUrl = await page.locator("#draw").evaluate((c) => c.toDataURL("image/png"));
  writeFileSync(png, Buffer.from(dataUrl.split(",")[1], "base64"));
  await page.setInputFiles("#png-file", png);
  await page.locator("#seen-caption", { hasText: "seven.png" }).waitFor();
  await page.locator('#probabilities[data-source="seven.png"]').waitFor();
  assertDistribution(await probabilities(page));

  // And with a finger on the phone.
  await mobile.waitForFunction((jobId) => document.getElementById("model").value === jobId, id);
  await mobile.locator("#predict-panel").scrollIntoViewIfNeeded();
  expectConsoleError(/status of 401/); // this browser has no token yet
  await drawWithFinger(mobile);
  await mobile.locator("#token-dialog").waitFor({ state: "visible" });
  await mobile.fill("#token-input", TOKEN);
  await mobile.click("#token-dialog button[type=submit]");
  assertDistribution(await probabilities(mobile));
  await shoot(mobile, "phone-390x844-predicted.png");

  // The server goes away: a message says so, nothing goes blank. (The
  // jobs poll's: other polls failing may say so in notices of their own.)
  expectConsoleError(/ERR_CONNECTION_REFUSED/, Infinity);
  daemon.kill("SIGTERM");
  await page.locator('.notice[data-key="jobs-poll"]', { hasText: "does not answer" }).waitFor({ timeout: 10000 });
  assert.equal(await page.locator("#jobs-table tbody tr").count(), 2, "the jobs table changed");

  assert.deepEqual(problems, [], "console or page errors");
  for (const [re, n] of expected)
    if (Number.isFinite(n)) assert.equal(n, 0, `expected a console error matching ${re}`);
});
