// harness.mjs - what every browser test starts the same way: a real
// `traind serve` on 127.0.0.1 with a fresh state dir and the repository's
// page, and Debian's chromium (playwright-core) with the flags this
// machine's closed network needs (no background networking, no component
// updates, no sync; Playwright gives each launch its own temporary
// --user-data-dir and refuses one in `args`).
//
// The daemon's stderr, and how it ended, go to tests/browser/logs/
// <prefix>traind.log, which browser.test prints when a test fails.
//
// Environment: TRAIND (the binary, default ../../traind), TRAIND_TEST_DATA
// (default ../../data), CHROMIUM (default /usr/bin/chromium).

import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const top = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const TRAIND = process.env.TRAIND || join(top, "traind");
const DATA = process.env.TRAIND_TEST_DATA || join(top, "data");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

// Starts the daemon; `extra` are more flags (--token ...). Returns the
// process, its state dir and a promise of its URL (rejected if it exits
// or prints none within 20 s).
export function spawnTraind(prefix, extra = [], webDir = join(top, "web")) {
  const stateDir = mkdtempSync(join(tmpdir(), prefix));
  const args = ["serve", "--config", "/dev/null", "--listen", "127.0.0.1:0", "--data-dir", DATA,
    "--state-dir", stateDir, "--web-dir", webDir, "--workers", "2", ...extra,
    "--snapshot-seconds", "0.5", "--access-log", "false"];
  const proc = spawn(TRAIND, args, { stdio: ["ignore", "pipe", "pipe"] });
  const logDir = join(top, "tests", "browser", "logs");
  mkdirSync(logDir, { recursive: true });
  const log = createWriteStream(join(logDir, `${prefix}traind.log`));
  let err = "";
  proc.stderr.on("data", (d) => {
    err += d;
    log.write(d);
  });
  proc.on("exit", (code, signal) => log.end(`traind exited: code ${code}, signal ${signal}\n`));
  const url = new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`traind did not print its URL in 20 s:\n${err}`)), 20000);
    proc.on("exit", (code) => fail(new Error(`traind exited with ${code} at start:\n${err}`)));
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s/]+)\//);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
  });
  return { proc, stateDir, url };
}

export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
