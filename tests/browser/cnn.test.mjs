// cnn.test.mjs - a convolutional network made with the new-job form's
// layer editor, as a person does it: Debian's chromium (playwright-core)
// on a real `traind serve` started here with the repository's digits. The
// form switches from hidden sizes to a layer list; conv, maxpool and dense
// rows are added, and every edit has the page ask POST /v1/jobs:validate
// about the form's body: each row's output shape and parameters, the
// output layer and the total shown are the server's answer to the same
// body (posted here too). While a check is held back the last values stay
// with "checking…"; an older answer never shows over a newer one; no
// server is said once, in one notice. A row added, moved and removed
// leaves the list it should; a move that leaves no output, a kernel out of
// range and a wrong epoch count are marked where the server's 400 says
// with its words, and fixed the marks go; the server's 400 on submit marks
// that row too. Fixed, the job is sent with `layers` and no `hidden`,
// trains, and the job view shows the server's layer summary; a digit
// drawn on the predict canvas with that model gives ten probabilities.
// Any console or page error not provoked on purpose fails it (the check's
// 400s are its answers, not errors). A screenshot (1280x800) goes to
// tests/browser/screenshots/cnn-*.png.
//
// Environment: TRAIND, TRAIND_TEST_DATA, CHROMIUM (as dashboard.test.mjs).

import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { launchChromium, spawnTraind } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const top = resolve(here, "../..");
const TRAIND = process.env.TRAIND || join(top, "traind");
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
  const d = spawnTraind("traind-cnn-", []);
  daemon = d.proc;
  stateDir = d.stateDir;
  return d.url;
}

const VALIDATE = "/v1/jobs:validate";
const isCheck = (r) => r.method() === "POST" && new URL(r.url()).pathname === VALIDATE;
const checks = []; // every validate request the page sent, in order

function watch(page) {
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    // A check's 400 is the server's answer to a body being edited.
    if (/status of 400/.test(msg.text()) && new URL(msg.location().url || "http://x/").pathname === VALIDATE) return;
    const hit = expected.find(([re, n]) => n > 0 && re.test(msg.text()));
    if (hit) hit[1]--;
    else problems.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("request", (r) => {
    if (isCheck(r)) checks.push(r);
  });
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
    invalid: [...li.querySelectorAll("[aria-invalid=true]")].map((i) => i.name),
  })));
}

/* The output layer and the total as the editor shows them. */
const shownTotal = (page) => page.evaluate(() => ({
  output: document.getElementById("layer-output").dataset.shape,
  outputParameters: document.getElementById("layer-output").dataset.parameters,
  parameters: document.getElementById("layer-total").dataset.parameters,
}));

/* Waits until the editor has no check waiting or in flight. */
const settled = (page) => page.waitForFunction(() => document.getElementById("f-layers").getAttribute("aria-busy") === "false");

/* Runs `action` (an edit), then waits for the check it starts to be sent
 * and answered: a validate request goes out, and the last one sent carries
 * the body a submit would send now. Returns that body. */
async function edit(page, action) {
  const before = checks.length;
  await Promise.all([page.waitForRequest(isCheck), action()]);
  await settled(page);
  assert.ok(checks.length > before, "no validate request after the edit");
  const sent = checks.at(-1).postDataJSON();
  assert.deepEqual(sent, await formBody(page), "the check did not send the form's body");
  return sent;
}

async function addRow(page, type, values) {
  await edit(page, async () => {
    await page.selectOption("#layer-add-type", type);
    await page.getByRole("button", { name: "Add layer" }).click();
    const li = rowsOf(page).last();
    for (const [key, v] of Object.entries(values)) await li.getByLabel(key, { exact: true }).fill(String(v));
  });
}

/* The body the form would send now (jobform.js's own). */
const formBody = (page) => page.evaluate(async () =>
  (await import(new URL("static/jobform.js", document.baseURI).href)).body());

/* What the server's check answers to `body`: its status and JSON. */
async function serverSays(body) {
  const res = await fetch(`${baseUrl}${VALIDATE}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, ...(await res.json()) };
}

/* The editor shows the server's own answer to `body`: each row's shape and
 * parameters, the output layer and the total. Returns the answer. */
async function showsServerModel(page, body) {
  const said = await serverSays(body);
  assert.equal(said.status, 200, `the server refused ${JSON.stringify(body)}: ${said.error}`);
  const n = body.layers.length;
  const rows = await shown(page);
  assert.deepEqual(rows.map((r) => r.shape), said.model.layers.slice(0, n).map((l) => l.output.join("x")));
  assert.deepEqual(rows.map((r) => Number(r.parameters)), said.model.layers.slice(0, n).map((l) => l.parameters));
  assert.deepEqual(rows.map((r) => r.error), rows.map(() => ""));
  const last = said.model.layers[n];
  assert.deepEqual(await shownTotal(page), { output: last.output.join("x"), outputParameters: String(last.parameters), parameters: String(said.model.parameters) });
  return said;
}

/* Holds back the page's validate requests until released, one by one. */
async function holdChecks(page) {
  const held = [];
  await page.route(`**${VALIDATE}`, (route) => held.push(route));
  return {
    /* Until `n` requests are held (10 s at most). */
    async waitFor(n) {
      for (const end = Date.now() + 10000; held.length < n; await new Promise((ok) => setTimeout(ok, 20)))
        if (Date.now() > end) throw new Error(`${n} validate requests were never sent`);
    },
    release: (i) => held[i].continue().catch(() => {}), // an aborted one cannot be
    stop: () => page.unroute(`**${VALIDATE}`),
  };
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
  browser = await launchChromium();
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

test("a CNN made with the layer editor trains and predicts", { timeout: 150000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  watch(page);
  await page.goto(`${baseUrl}/`);
  await page.waitForFunction(() => [...document.querySelectorAll("#f-dataset option")].some((o) => o.textContent.includes("train")));

  // Hidden sizes first, checked only on submit; a changed hidden field is
  // not sent with a layer list.
  assert.ok(await page.locator("#f-hidden").isVisible());
  assert.ok(!(await page.locator("#f-layers").isVisible()));
  await page.fill("#f-hidden", "64");
  await page.waitForTimeout(400);
  assert.equal(checks.length, 0, "the hidden sizes were checked live");
  await edit(page, () => page.getByLabel("Layer list").check());
  assert.ok(!(await page.locator("#f-hidden").isVisible()), "the hidden sizes stay shown");
  assert.ok(await page.locator("#f-layers").isVisible(), "no layer editor");

  // Three rows, each with the server's output shape (C x H x W) and parameters.
  await addRow(page, "conv", { Filters: 8, Kernel: 5, Padding: 2 });
  await addRow(page, "maxpool", { Size: 2 });
  await addRow(page, "dense", { Units: 32 });
  const said3 = await showsServerModel(page, await formBody(page));
  assert.deepEqual(said3.model.layers.slice(0, 3).map((l) => l.output.join("x")), SHAPES);
  assert.deepEqual(said3.model.layers.slice(0, 3).map((l) => l.parameters), PARAMS);
  assert.match(await rowAt(page, 0).locator(".layer-out").textContent(), /8×28×28 · 208 parameters/);
  assert.match(await rowAt(page, 1).locator(".layer-out").textContent(), /8×14×14/);
  assert.match(await rowAt(page, 2).locator(".layer-out").textContent(), /→ 32 · 50,208 parameters/);
  assert.match(await page.locator("#layer-total").textContent(), /Total: 50,746 parameters, [\d,]+ flops per sample, from a 1×28×28 input/);
  // An empty key shows what the server made of it.
  assert.equal(await rowAt(page, 0).getByLabel("Stride").getAttribute("placeholder"), String(said3.config.layers[0].stride));
  assert.equal(await rowAt(page, 1).getByLabel("Stride").getAttribute("placeholder"), String(said3.config.layers[1].stride));

  // A picked value of another field is checked too.
  await edit(page, () => page.selectOption("#f-activation", "tanh"));
  assert.equal(await rowAt(page, 0).getByLabel("Activation").locator("option").first().textContent(), "job's (tanh)");
  await showsServerModel(page, await formBody(page));
  await edit(page, () => page.selectOption("#f-activation", "relu"));
  // So is a row's own activation.
  const rowActivation = rowAt(page, 2).getByLabel("Activation");
  const withTanh = await edit(page, () => rowActivation.selectOption("tanh"));
  assert.equal(withTanh.layers[2].activation, "tanh");
  await edit(page, () => rowActivation.selectOption(""));

  // A fourth row moved up, then removed: the list is the three again.
  await addRow(page, "dense", { Units: 16 });
  await edit(page, () => page.getByRole("button", { name: "Move layer 4 (dense) up" }).click());
  let rows = await shown(page);
  assert.deepEqual(rows.map((r) => r.type), ["conv", "maxpool", "dense", "dense"]);
  assert.equal(await rowAt(page, 2).getByLabel("Units").inputValue(), "16");
  await showsServerModel(page, await formBody(page));
  assert.deepEqual((await shown(page)).map((r) => r.shape), ["8x28x28", "8x14x14", "16x1x1", "32x1x1"]);
  await edit(page, () => page.getByRole("button", { name: "Remove layer 3 (dense)" }).click());
  rows = await shown(page);
  assert.deepEqual(rows.map((r) => r.type), ["conv", "maxpool", "dense"]);
  assert.equal(await rowAt(page, 2).getByLabel("Units").inputValue(), "32");
  await showsServerModel(page, await formBody(page));

  // The dense row moved above the pool leaves the pool a 1x1 input: marked
  // with the server's words on its field, and moved back it is fine again.
  let body = await edit(page, () => page.getByRole("button", { name: "Move layer 3 (dense) up" }).click());
  rows = await shown(page);
  assert.deepEqual(rows.map((r) => r.type), ["conv", "dense", "maxpool"]);
  let said = await serverSays(body);
  assert.equal(said.status, 400);
  assert.equal(said.field, "layers[2].size");
  assert.deepEqual(rows.map((r) => r.error), ["", "", said.error]);
  assert.deepEqual(rows.map((r) => r.invalid), [[], [], ["layers[2].size"]]);
  assert.deepEqual(rows.map((r) => r.shape), ["", "", ""], "shapes the server did not give");
  await edit(page, () => page.getByRole("button", { name: "Move layer 3 (maxpool) up" }).click());
  await showsServerModel(page, await formBody(page));
  assert.deepEqual((await shown(page)).map((r) => r.invalid), [[], [], []]);

  // Kernel 40: out of range, marked on its field with the server's message.
  const kernel = rowAt(page, 0).getByLabel("Kernel");
  body = await edit(page, () => kernel.fill("40"));
  rows = await shown(page);
  said = await serverSays(body);
  assert.equal(said.field, "layers[0].kernel");
  assert.match(said.error, /layers\[0\]\.kernel must be an integer from 1 to 15, not 40/);
  assert.equal(rows[0].error, said.error);
  assert.equal(await kernel.getAttribute("aria-invalid"), "true");
  assert.deepEqual(rows.map((r) => r.invalid), [["layers[0].kernel"], [], []]);
  assert.deepEqual(rows.map((r) => r.shape), ["", "", ""], "shapes after a wrong row");
  await edit(page, () => page.locator("#f-epochs").fill("3"));
  // Typed key by key, the name is checked once the typing stops, not per key.
  const typedFrom = checks.length;
  await edit(page, () => page.locator("#f-name").pressSequentially("cnn-test", { delay: 20 }));
  assert.ok(checks.length - typedFrom < 4, `${checks.length - typedFrom} checks for 8 keys`);
  await shoot(page, "cnn-desktop-1280x800-invalid.png");

  // Sent anyway, the server's 400 marks the same row and field.
  expectConsoleError(/status of 400/);
  await page.click("#job-form button[type=submit]");
  await rowAt(page, 0).locator(".field-error", { hasText: "(HTTP 400)" }).waitFor();
  assert.match(await rowAt(page, 0).locator(".field-error").textContent(), /layers\[0\]\.kernel must be an integer from 1 to 15/);
  assert.equal(await kernel.getAttribute("aria-invalid"), "true");

  // Fixed: the mark goes, the server's shapes come back.
  await edit(page, () => kernel.fill("5"));
  assert.equal(await kernel.getAttribute("aria-invalid"), null);
  await showsServerModel(page, await formBody(page));
  assert.deepEqual((await shown(page)).map((r) => r.shape), SHAPES);

  // Another field's problem is marked on that field, with no shapes.
  body = await edit(page, () => page.locator("#f-epochs").fill("0"));
  said = await serverSays(body);
  assert.equal(said.field, "epochs");
  assert.equal(await page.locator("#err-epochs").textContent(), said.error);
  assert.equal(await page.getAttribute("#f-epochs", "aria-invalid"), "true");
  assert.deepEqual((await shown(page)).map((r) => [r.shape, r.error]), [["", ""], ["", ""], ["", ""]]);
  await edit(page, () => page.locator("#f-epochs").fill("3"));
  assert.equal(await page.locator("#err-epochs").textContent(), "");
  assert.equal(await page.getAttribute("#f-epochs", "aria-invalid"), null);
  await showsServerModel(page, await formBody(page));

  // A check held back: the last values stay shown, "checking…" beside
  // them; a newer edit's answer is the one shown, and the older one,
  // released after it, does not replace it.
  const hold = await holdChecks(page);
  const stride = rowAt(page, 0).getByLabel("Stride");
  await stride.fill("2");
  await hold.waitFor(1);
  assert.deepEqual((await shown(page)).map((r) => r.shape), SHAPES, "the shown values went while checking");
  assert.equal(await page.locator("#layer-check").textContent(), "checking…");
  assert.ok(await page.locator("#layer-check").isVisible());
  await stride.fill("");
  await hold.waitFor(2);
  assert.equal(await page.locator("#layer-check").textContent(), "checking…", "the newer check was forgotten");
  await hold.release(1);
  await settled(page);
  assert.deepEqual((await shown(page)).map((r) => r.shape), SHAPES);
  assert.equal(await page.locator("#layer-check").textContent(), "");
  const older = checks.at(-2);
  assert.equal(older.postDataJSON().layers[0].stride, 2);
  await hold.release(0);
  await older.response();
  await page.waitForTimeout(300); // time for a stale answer to be drawn, were it drawn
  assert.deepEqual((await shown(page)).map((r) => r.shape), SHAPES, "an older answer was shown over a newer one");
  await hold.stop();
  // With it, the server's own shapes (a stride of 2 rounds (28 + 4 - 5) / 2 down).
  await edit(page, () => stride.fill("2"));
  await showsServerModel(page, await formBody(page));
  assert.deepEqual((await shown(page)).map((r) => r.shape), ["8x14x14", "8x7x7", "32x1x1"]);
  await edit(page, () => stride.fill(""));
  await showsServerModel(page, await formBody(page));

  // No server for the checks: said once, in one notice, the form still
  // usable; the notice goes with the next answer, and a new outage is said
  // again, once (dismissed, it stays away).
  const notice = page.locator('.notice[data-key="check"]');
  const noServer = () => page.route(`**${VALIDATE}`, (route) => route.abort("failed"));
  const rename = (name) => edit(page, () => page.locator("#f-name").fill(name));
  await noServer();
  expectConsoleError(/ERR_FAILED/, 4);
  await rename("cnn-tes");
  await rename("cnn-test");
  assert.equal(await notice.count(), 1);
  assert.match(await notice.textContent(), /Cannot check the new job/);
  assert.match(await page.locator("#layer-check").textContent(), /Not checked: the server does not answer/);
  assert.deepEqual((await shown(page)).map((r) => r.shape), SHAPES, "the last answer went");
  await page.unroute(`**${VALIDATE}`);
  await rename("cnn-tes");
  assert.equal(await notice.count(), 0, "the notice stays after an answer");
  assert.equal(await page.locator("#layer-check").textContent(), "");
  await noServer();
  await rename("cnn-test");
  assert.equal(await notice.count(), 1, "a new outage is not said");
  await notice.getByRole("button", { name: "Dismiss this message" }).click();
  await rename("cnn-tes");
  assert.equal(await notice.count(), 0, "the same outage is said twice");
  await page.unroute(`**${VALIDATE}`);
  await rename("cnn-test");

  // The job is sent with layers and without hidden.
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/v1/jobs")),
    page.click("#job-form button[type=submit]"),
  ]);
  const sent = request.postDataJSON();
  assert.deepEqual(sent.layers, ROWS);
  assert.ok(!("hidden" in sent), `hidden was sent: ${JSON.stringify(sent)}`);
  await page.locator(".notice", { hasText: "Created job cnn-test" }).waitFor();
  const { jobs } = await (await fetch(`${baseUrl}/v1/jobs`)).json();
  assert.equal(jobs.length, 1, "one job, the fixed one: validating queued none");
  const job = jobs[0];
  assert.deepEqual(job.config.hidden, []);
  assert.deepEqual(job.config.layers.map((l) => l.type), ["conv", "maxpool", "dense"]);
  // The editor showed the job's own model.
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
