// cnn.test.mjs - a convolutional network made with the new-job form's
// layer editor, as a person does it: Debian's chromium (playwright-core)
// on a real `traind serve` started here with the repository's digits. The
// form switches from hidden sizes to a layer list; conv, maxpool and dense
// rows are added and each shows its output shape and parameter count; a
// row added, moved and removed leaves the list it should, a move that
// leaves no output and a kernel out of range are marked with the server's
// own words (the same rows posted to the server give the same field and
// message), and the server's 400 on submit marks that row; fixed, the job
// is sent with `layers` and no `hidden`, trains, and the job view shows
// the server's layer summary, equal to the editor's; a digit drawn on the
// predict canvas with that model gives ten probabilities. Any console or
// page error not provoked on purpose fails it. A screenshot (1280x800)
// goes to tests/browser/screenshots/cnn-*.png.
//
// Environment: TRAIND, TRAIND_TEST_DATA, CHROMIUM (as dashboard.test.mjs).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const top = resolve(here, "../..");
const TRAIND = process.env.TRAIND || join(top, "traind");
const DATA = process.env.TRAIND_TEST_DATA || join(top, "data");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = join(here, "screenshots");

// The rows the form must send, and what the server makes of them.
const ROWS = [{ type: "conv", filters: 8, kernel: 5, padding: 2 }, { type: "maxpool", size: 2 }, { type: "dense", units: 32 }];
const SHAPES = ["8x28x28", "8x14x14", "32x1x1"];
const PARAMS = [8 * 25 + 8, 0, 32 * 8 * 14 * 14 + 32]; // the output layer: 32 * 10 + 10

let daemon, baseUrl, stateDir, browser;
const problems = [];
const expected = []; // [regex, count] of errors a step provokes on purpose

function startDaemon() {
  stateDir = mkdtempSync(join(tmpdir(), "traind-cnn-"));
  const args = ["serve", "--config", "/dev/null", "--listen", "127.0.0.1:0", "--data-dir", DATA,
    "--state-dir", stateDir, "--web-dir", join(top, "web"), "--workers", "2",
    "--snapshot-seconds", "0.5", "--access-log", "false"];
  daemon = spawn(TRAIND, args, { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  daemon.stderr.on("data", (d) => (err += d));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`traind did not print its URL in 20 s:\n${err}`)), 20000);
    daemon.on("exit", (code) => fail(new Error(`traind exited with ${code} at start:\n${err}`)));
    let out = "";
    daemon.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s/]+)\//);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
  });
}

function watch(page) {
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const hit = expected.find(([re, n]) => n > 0 && re.test(msg.text()));
    if (hit) hit[1]--;
    else problems.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
}

/* Lets `count` console errors matching `re` through: a step provoking them. */
function expectConsoleError(re, count = 1) {
  expected.push([re, count]);
}

async function shoot(page, name) {
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

/* ---- the layer editor ------------------------------------------------- */

const rowsOf = (page) => page.locator("#layer-rows > li");
const rowAt = (page, i) => rowsOf(page).nth(i);

/* Each row as the editor shows it: type, output shape, parameters, error. */
function shown(page) {
  return rowsOf(page).evaluateAll((lis) => lis.map((li) => ({
    type: li.dataset.type,
    shape: li.querySelector(".layer-out").dataset.shape,
    parameters: li.querySelector(".layer-out").dataset.parameters,
    error: li.querySelector(".field-error").textContent,
  })));
}

async function addRow(page, type, values) {
  await page.selectOption("#layer-add-type", type);
  await page.getByRole("button", { name: "Add layer" }).click();
  const li = rowsOf(page).last();
  for (const [key, v] of Object.entries(values)) await li.getByLabel(key, { exact: true }).fill(String(v));
}

/* The body the form would send now (jobform.js's own). */
const formBody = (page) => page.evaluate(async () =>
  (await import(new URL("static/jobform.js", document.baseURI).href)).body());

/* What the server answers to `body`: its status and JSON. */
async function serverSays(body) {
  const res = await fetch(`${baseUrl}/v1/jobs`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, ...(await res.json()) };
}

/* ---- predicting (as dashboard.test.mjs) -------------------------------- */

const SEVEN = [[0.25, 0.22], [0.75, 0.22], [0.62, 0.45], [0.5, 0.65], [0.42, 0.82]];

async function drawWithMouse(page) {
  await page.locator("#draw").scrollIntoViewIfNeeded();
  const box = await page.locator("#draw").boundingBox();
  const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
  await page.mouse.move(...at(SEVEN[0]));
  await page.mouse.down();
  for (const p of SEVEN.slice(1)) await page.mouse.move(...at(p), { steps: 8 });
  await page.mouse.up();
}

async function probabilities(page) {
  await page.waitForFunction(() => document.querySelectorAll("#probabilities li").length === 10);
  return page.locator("#probabilities li").evaluateAll((lis) => lis.map((li) => Number(li.dataset.p)));
}

/* ---- the scenario ------------------------------------------------------- */

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  baseUrl = await startDaemon();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((ok) => daemon.once("exit", ok));
    daemon.kill("SIGTERM");
    await exited;
  }
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

test("a CNN made with the layer editor trains and predicts", { timeout: 120000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  watch(page);
  await page.goto(`${baseUrl}/`);
  // The form is there, and the data sets (their image size) are known.
  await page.waitForFunction(() => [...document.querySelectorAll("#f-dataset option")].some((o) => o.textContent.includes("train")));

  // Hidden sizes first; a changed hidden field is not sent with a layer list.
  assert.ok(await page.locator("#f-hidden").isVisible());
  assert.ok(!(await page.locator("#f-layers").isVisible()));
  await page.fill("#f-hidden", "64");
  await page.getByLabel("Layer list").check();
  assert.ok(!(await page.locator("#f-hidden").isVisible()), "the hidden sizes stay shown");
  assert.ok(await page.locator("#f-layers").isVisible(), "no layer editor");

  // Three rows, each with its output shape (C x H x W) and parameters.
  await addRow(page, "conv", { Filters: 8, Kernel: 5, Padding: 2 });
  await addRow(page, "maxpool", { Size: 2 });
  await addRow(page, "dense", { Units: 32 });
  let rows = await shown(page);
  assert.deepEqual(rows.map((r) => r.shape), SHAPES);
  assert.deepEqual(rows.map((r) => Number(r.parameters)), PARAMS);
  assert.deepEqual(rows.map((r) => r.error), ["", "", ""]);
  assert.match(await rowAt(page, 0).locator(".layer-out").textContent(), /8×28×28 · 208 parameters/);
  assert.match(await rowAt(page, 1).locator(".layer-out").textContent(), /8×14×14/);
  assert.match(await rowAt(page, 2).locator(".layer-out").textContent(), /→ 32 · 50,208 parameters/);
  assert.equal(await page.getAttribute("#layer-output", "data-shape"), "10x1x1");
  assert.equal(await page.getAttribute("#layer-total", "data-parameters"), String(PARAMS[0] + PARAMS[2] + 330));

  // A fourth row moved up, then removed: the list is the three again.
  await addRow(page, "dense", { Units: 16 });
  await page.getByRole("button", { name: "Move layer 4 (dense) up" }).click();
  rows = await shown(page);
  assert.deepEqual(rows.map((r) => r.type), ["conv", "maxpool", "dense", "dense"]);
  assert.deepEqual(rows.map((r) => r.shape), ["8x28x28", "8x14x14", "16x1x1", "32x1x1"]);
  assert.deepEqual(rows.map((r) => Number(r.parameters)), [208, 0, 16 * 1568 + 16, 32 * 16 + 32]);
  assert.equal(await rowAt(page, 2).getByLabel("Units").inputValue(), "16");
  await page.getByRole("button", { name: "Remove layer 3 (dense)" }).click();
  rows = await shown(page);
  assert.deepEqual(rows.map((r) => r.type), ["conv", "maxpool", "dense"]);
  assert.deepEqual(rows.map((r) => r.shape), SHAPES);
  assert.equal(await rowAt(page, 2).getByLabel("Units").inputValue(), "32");

  // The dense row moved above the pool leaves the pool a 1x1 input: marked
  // with the server's words and field, and moved back it is fine again.
  await page.getByRole("button", { name: "Move layer 3 (dense) up" }).click();
  rows = await shown(page);
  assert.deepEqual(rows.map((r) => r.type), ["conv", "dense", "maxpool"]);
  assert.deepEqual(rows.map((r) => r.shape), ["8x28x28", "32x1x1", ""]);
  let said = await serverSays(await formBody(page));
  assert.equal(said.status, 400);
  assert.equal(said.field, "layers[2].size");
  assert.equal(rows[2].error, said.error);
  assert.equal(await rowAt(page, 2).getByLabel("Size").getAttribute("aria-invalid"), "true");
  await page.getByRole("button", { name: "Move layer 3 (maxpool) up" }).click();
  rows = await shown(page);
  assert.deepEqual(rows.map((r) => r.shape), SHAPES);
  assert.deepEqual(rows.map((r) => r.error), ["", "", ""]);

  // Kernel 40: out of range, marked on its field with the server's message.
  const kernel = rowAt(page, 0).getByLabel("Kernel");
  await kernel.fill("40");
  rows = await shown(page);
  said = await serverSays(await formBody(page));
  assert.equal(said.field, "layers[0].kernel");
  assert.equal(rows[0].error, said.error);
  assert.match(rows[0].error, /layers\[0\]\.kernel must be an integer from 1 to 15, not 40/);
  assert.equal(await kernel.getAttribute("aria-invalid"), "true");
  assert.deepEqual(rows.map((r) => r.shape), ["", "", ""], "shapes after a wrong row");
  await page.locator("#f-epochs").fill("3");
  await page.locator("#f-name").fill("cnn-test");
  await shoot(page, "cnn-desktop-1280x800-invalid.png");

  // Sent anyway, the server's 400 marks the same row and field.
  expectConsoleError(/status of 400/);
  await page.click("#job-form button[type=submit]");
  await rowAt(page, 0).locator(".field-error", { hasText: "(HTTP 400)" }).waitFor();
  assert.match(await rowAt(page, 0).locator(".field-error").textContent(), /layers\[0\]\.kernel must be an integer from 1 to 15/);
  assert.equal(await kernel.getAttribute("aria-invalid"), "true");

  // Fixed: the error goes, the shapes come back (a stride of 2 rounds
  // (28 + 4 - 5) / 2 down), and the job is sent with layers and without hidden.
  await kernel.fill("5");
  rows = await shown(page);
  assert.deepEqual(rows.map((r) => r.error), ["", "", ""]);
  assert.deepEqual(rows.map((r) => r.shape), SHAPES);
  await rowAt(page, 0).getByLabel("Stride").fill("2");
  assert.deepEqual((await shown(page)).map((r) => r.shape), ["8x14x14", "8x7x7", "32x1x1"]);
  await rowAt(page, 0).getByLabel("Stride").fill("");
  assert.deepEqual((await shown(page)).map((r) => r.shape), SHAPES);
  assert.equal(await kernel.getAttribute("aria-invalid"), null);
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/v1/jobs")),
    page.click("#job-form button[type=submit]"),
  ]);
  const sent = request.postDataJSON();
  assert.deepEqual(sent.layers, ROWS);
  assert.ok(!("hidden" in sent), `hidden was sent: ${JSON.stringify(sent)}`);
  await page.locator(".notice", { hasText: "Created job cnn-test" }).waitFor();
  const { jobs } = await (await fetch(`${baseUrl}/v1/jobs`)).json();
  assert.equal(jobs.length, 1, "one job, the fixed one");
  const job = jobs[0];
  assert.deepEqual(job.config.hidden, []);
  assert.deepEqual(job.config.layers.map((l) => l.type), ["conv", "maxpool", "dense"]);
  // The editor's arithmetic is the server's.
  assert.deepEqual(job.model.layers.slice(0, 3).map((l) => l.output.join("x")), SHAPES);
  assert.deepEqual(job.model.layers.slice(0, 3).map((l) => l.parameters), PARAMS);
  assert.equal(String(job.model.parameters), await page.getAttribute("#layer-total", "data-parameters"));

  // Trained, the job view shows its layers.
  await page.locator(`#jobs-table tr[data-id="${job.id}"] .badge[data-state="completed"]`).waitFor({ timeout: 60000 });
  const summary = page.locator("#model-summary");
  await summary.waitFor();
  assert.match(await page.locator("#model-summary-text").textContent(), /4 layers, 50,746 parameters/);
  const table = await page.locator("#model-table tbody tr").evaluateAll((trs) => trs.map((tr) => ({
    type: tr.dataset.type, shape: tr.dataset.shape, parameters: Number(tr.dataset.parameters),
    cells: [...tr.children].map((c) => c.textContent),
  })));
  assert.deepEqual(table.map((r) => r.type), ["conv", "maxpool", "dense", "dense"]);
  assert.deepEqual(table.map((r) => r.shape), [...SHAPES, "10x1x1"]);
  assert.deepEqual(table.map((r) => r.parameters), [...PARAMS, 330]);
  assert.deepEqual(table[0].cells, ["1", "conv 5×5, stride 1, padding 2", "8×28×28", "relu", "208"]);
  assert.deepEqual(table[3].cells, ["4 (output)", "dense", "10", "softmax", "330"]);
  // ...and the runs table writes its layers in a few characters.
  await page.check("#runs-all-config");
  await page.locator(`#jobs-table tr[data-id="${job.id}"] td[data-key="config.layers"]`, { hasText: "conv8k5p2 maxpool2 dense32" }).waitFor();

  // A digit drawn with that model: ten probabilities summing to 1.
  await page.waitForFunction((id) => document.getElementById("model").value === id, job.id);
  await drawWithMouse(page);
  const probs = await probabilities(page);
  assert.equal(probs.length, 10);
  for (const p of probs) assert.ok(p >= 0 && p <= 1, `probability ${p}`);
  assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-4, "the probabilities sum to 1");
  assert.match(await page.locator("#verdict").textContent(), /The model says \d/);
  await shoot(page, "cnn-desktop-1280x800-trained.png");

  assert.deepEqual(problems, [], "console or page errors");
  for (const [re, n] of expected) assert.equal(n, 0, `expected a console error matching ${re}`);
});
