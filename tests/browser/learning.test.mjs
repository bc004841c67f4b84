// learning.test.mjs - the two panels that show the learning, as a person
// uses them: Debian's chromium (playwright-core) on a real `traind serve`
// started here with the repository's digits. The per-layer panel of a
// saturating sigmoid job shows its three statistics and the vanishing
// warning and its per-epoch histograms, and a healthy relu job compared
// beside it; the backprop
// walk-through explains XOR on 3-4-1 step by step, "check my numbers"
// tells a right matrix, a wrong entry and a transposed shape apart, a bad
// field is named, and 784-100-10 on a digit explains too. Any console or
// page error not provoked on purpose fails it. Screenshots (1280x800 and
// 390x844) go to tests/browser/screenshots/learning-*.png.
//
// Environment: TRAIND, TRAIND_TEST_DATA, CHROMIUM (as dashboard.test.mjs),
// TRAIND_WEB_DIR (default ../../web: the daemon serves no file whose real
// path leaves its web dir, so node_modules must be a folder there).

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
const WEB = process.env.TRAIND_WEB_DIR || join(top, "web");
const SHOTS = join(here, "screenshots");

// Eight sigmoid layers with mse and no weight decay: the first hardly moves.
const SATURATING = { name: "saturating", dataset: "digits", hidden: [16, 16, 16, 16, 16, 16, 16, 16], activation: "sigmoid",
  output: "sigmoid", loss: "mse", optimizer: "sgd", learning_rate: 0.01, l2: 0, epochs: 3, batch_size: 32, workers: 1, augment: "none" };
const HEALTHY = { name: "healthy", dataset: "digits", hidden: [32], activation: "relu", epochs: 3, batch_size: 32, workers: 1, augment: "none" };
const XOR = { hidden: [4], activation: "sigmoid", output: "sigmoid", loss: "mse", optimizer: "sgd", learning_rate: 0.5, l2: 0, seed: 1,
  input: [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], labels: [0, 1, 1, 0], classes: 2 };

let daemon, baseUrl, stateDir, browser;
const problems = [];
const expected = [];

function startDaemon() {
  const d = spawnTraind("traind-learning-", [], WEB);
  daemon = d.proc;
  stateDir = d.stateDir;
  return d.url;
}

async function post(path, body) {
  const res = await fetch(baseUrl + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await res.json();
  assert.ok(res.ok, `POST ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

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

async function openPage(context, label) {
  const page = await context.newPage();
  watch(page, label);
  await page.goto(`${baseUrl}/`);
  await page.waitForFunction(() => document.getElementById("server-version").textContent !== "" &&
    document.querySelectorAll('#explain-form select[name="dataset"] option').length > 0);
  return page;
}

const row = (page, id) => page.locator(`#jobs-table tr[data-id="${id}"]`);

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  baseUrl = await startDaemon();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (daemon && daemon.exitCode === null) daemon.kill("SIGTERM");
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

test("the layer statistics panel shows the three figures and the warnings", { timeout: 240000 }, async () => {
  const sat = (await post("/v1/jobs", SATURATING)).id;
  const ok = (await post("/v1/jobs", HEALTHY)).id;
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await openPage(desktop, "desktop");
  await row(page, sat).waitFor();
  await row(page, sat).locator('input[type="radio"]').check();
  // Ten measured points below 1e-7 for layer 1: about 200 steps in.
  const warning = page.locator('#learning-warnings li[data-kind="vanishing"][data-layer="1"]');
  await warning.waitFor({ timeout: 180000 });
  assert.match(await warning.textContent(), /layer 1 has almost stopped learning.*try relu or a smaller init/);
  assert.ok(Number(await page.locator("#learning-panel").getAttribute("data-points")) >= 10);
  for (const id of ["layers-w", "layers-g", "layers-r"])
    assert.equal(await page.locator(`#${id} canvas`).count(), 1, `${id} is drawn`);
  // Nine weight tensors, one line each, in the legend of the update ratio.
  assert.equal(await page.locator("#layers-r .u-legend .u-series").count(), 1 + 9);

  // Its histograms per epoch: a ridge for each layer's weights and activations.
  await page.waitForFunction(() => Number(document.getElementById("hist-figure").dataset.epochs) >= 1, null, { timeout: 120000 });
  assert.equal(await page.locator("#hist-row option").count(), 18);
  await page.selectOption("#hist-row", "a1");

  // The healthy job compared beside it: its lines join, and it raises nothing.
  await row(page, ok).locator('input[type="checkbox"]').check();
  await page.waitForFunction((id) => document.getElementById("learning-panel").dataset.jobs.includes(id), ok);
  // ...and its histograms beside the first job's, once it has an epoch.
  await page.waitForFunction((id) => document.getElementById("hist-figure").dataset.jobs.includes(id), ok, { timeout: 120000 });
  assert.equal(await page.locator("#hist-grid canvas").count(), 2);
  await page.waitForFunction(() => document.querySelectorAll("#layers-r .u-legend .u-series").length === 1 + 9 + 2);
  // Once it has trained a while (a dozen measured steps), it raises nothing.
  for (let t = 0; ; t++) {
    const l = await fetch(`${baseUrl}/v1/jobs/${ok}/layers?since_step=0`).then((r) => r.json());
    if (l.points.length >= 12) break; /* 221 steps */
    assert.ok(t < 1200, "the healthy job trains");
    await new Promise((r) => setTimeout(r, 100));
  }
  const health = await fetch(`${baseUrl}/v1/jobs/${ok}`).then((r) => r.json());
  assert.deepEqual(health.warnings, []);
  await page.locator("#learning-panel").scrollIntoViewIfNeeded();
  await page.locator("#learning-panel").screenshot({ path: join(SHOTS, "learning-desktop-1280x800-layers.png") });
  await desktop.close();
});

test("backprop step by step, and check my numbers", { timeout: 120000 }, async () => {
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await openPage(desktop, "desktop");
  await page.click('[data-preset="xor"]');
  await page.click("#explain-go");
  await page.waitForFunction(() => Number(document.getElementById("explain-panel").dataset.steps) > 0);
  const names = await page.locator("#explain-steps li.step").evaluateAll((els) => els.map((e) => e.dataset.name));
  assert.deepEqual(names, ["W1", "b1", "W2", "b2", "a0", "z1", "a1", "z2", "a2", "y", "J", "delta2", "dW2", "db2",
    "da1", "delta1", "dW1", "db1", "W1'", "b1'", "W2'", "b2'"]);
  const delta2 = page.locator('#explain-steps li[data-name="delta2"]');
  assert.equal(await delta2.locator(".formula").textContent(), "delta2 = (a2 - y) * a2 * (1 - a2)");
  assert.equal(await delta2.locator(".shape").textContent(), "4×1");
  const dW2 = page.locator('#explain-steps li[data-name="dW2"]');
  assert.match(await dW2.locator(".from").textContent(), /a1\^T \(4x4\) \. delta2 \(4x1\) -> 4x1 \(the shape of W2\)/);
  assert.equal(await dW2.locator(".check.ok").count(), 1);

  // The true dW2, from the API with the page's body, pasted back: it matches.
  const truth = (await post("/v1/explain", XOR)).steps.find((s) => s.name === "dW2").values;
  await page.selectOption("#check-step", "dW2");
  await page.fill("#check-input", JSON.stringify(truth));
  await page.click("#check-go");
  assert.equal(await page.locator("#check-result").getAttribute("data-verdict"), "match");
  // One entry off (the sigmoid's derivative forgotten, say): that entry is marked.
  const wrong = truth.map((r) => [...r]);
  wrong[2][0] *= 4;
  await page.fill("#check-input", JSON.stringify(wrong));
  await page.click("#check-go");
  assert.equal(await page.locator("#check-result").getAttribute("data-verdict"), "differs");
  assert.equal(await page.locator("#check-result td.differs").count(), 1);
  await page.locator("#check-box").screenshot({ path: join(SHOTS, "learning-desktop-1280x800-check.png") });
  // The transposed shape, the seeds' "(10,) and (100,) not aligned": named as such.
  await page.fill("#check-input", JSON.stringify([truth.map((r) => r[0])]));
  await page.click("#check-go");
  assert.equal(await page.locator("#check-result").getAttribute("data-verdict"), "shape");
  assert.match(await page.locator("#check-result").textContent(), /yours is 1×4, dW2 is 4×1 - that is its transpose/);
  await page.fill("#check-input", "[[1, 2], [3]");
  await page.click("#check-go");
  assert.equal(await page.locator("#check-result").getAttribute("data-verdict"), "invalid");

  // A bad field: the server's sentence, with the field it names.
  await page.fill('#explain-form input[name="hidden"]', "0");
  expected.push([/status of 400/, 1]);
  await page.click("#explain-go");
  await page.locator("#explain-error").waitFor({ state: "visible" });
  assert.match(await page.locator("#explain-error").textContent(), /hidden\[0\]/);

  // 784-100-10 sigmoid / mse on the first training digit.
  await page.click('[data-preset="mnist"]');
  await page.click("#explain-go");
  await page.waitForFunction(() => document.querySelector('#explain-steps li[data-name="W1"] .shape')?.textContent === "784×100");
  assert.match(await page.locator("#explain-summary").textContent(), /Layers 784-100-10/);
  await page.locator("#explain-panel").screenshot({ path: join(SHOTS, "learning-desktop-1280x800-explain.png") });
  await desktop.close();

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const mobile = await openPage(phone, "phone");
  await mobile.click('[data-preset="deep"]');
  await mobile.click("#explain-go");
  await mobile.waitForFunction(() => Number(document.getElementById("explain-panel").dataset.steps) > 0);
  assert.equal(await mobile.locator('#explain-steps li[data-name="dW3"] .shape').textContent(), "3×1");
  await mobile.locator("#explain-panel").screenshot({ path: join(SHOTS, "learning-phone-390x844-explain.png") });
  await phone.close();
  assert.deepEqual(problems, [], "no console or page errors");
});
