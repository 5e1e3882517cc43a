// The harness every browser script shares: arguments, Chromium, steps, waits, failure shots.
//
//   node tests/browser/<script>.mjs http://127.0.0.1:PORT [screenshot-dir]
//
// A script imports what it needs, writes `async function main()` that calls `setStep(...)`
// before each step and `pass(...)` after it, and ends with `run(main)`. `run` prints
// "N passed, 0 failed" (tests/browser.rs checks N) or the failing step, with screenshots.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

export const base = (process.argv[2] || '').replace(/\/+$/, '');
export const shotDir = process.argv[3] || 'target/browser';
if (!/^https?:\/\//.test(base)) {
  console.error(`usage: node ${path.basename(process.argv[1] || 'script.mjs')} http://127.0.0.1:PORT [screenshot-dir]`);
  process.exit(2);
}

export const T = 10_000; // per-wait timeout
const WATCHDOG_MS = 90_000; // a whole script

let browser;
let step = 'start';
let passed = 0;
const problems = []; // console errors, CSP violations, page errors

export function setStep(name) {
  step = name;
}

export function fail(message) {
  throw new Error(message);
}

export function watch(page, label) {
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`[${label}] console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`[${label}] page error: ${err.message}`));
  page.on('crash', () => problems.push(`[${label}] page crashed`));
}

function checkProblems() {
  if (problems.length) fail(`browser reported errors:\n  ${problems.join('\n  ')}`);
}

export function pass(text) {
  checkProblems();
  passed += 1;
  console.log(`ok - ${text}`);
}

/// Saves a screenshot of `page` as shotDir/name.
export async function shot(page, name, options = {}) {
  fs.mkdirSync(shotDir, { recursive: true });
  await page.screenshot({ path: path.join(shotDir, name), ...options });
}

export const sel = {
  panel: '[data-testid="chat-panel"]',
  msg: (role) => `[data-testid="msg"][data-role="${role}"]`,
  queueItem: (id) => `[data-testid="queue-item"][data-conversation="${id}"]`,
};

export async function waitVisible(locator, what, timeout = T) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout });
  } catch {
    fail(`timed out after ${timeout} ms waiting for ${what}`);
  }
}

export async function buyerSend(panel, text) {
  const input = panel.getByTestId('buyer-input');
  await input.fill(text, { timeout: T });
  await panel.getByTestId('buyer-send').click({ timeout: T });
}

// Waits for the n-th (0-based) bubble of a role in a panel, i.e. for there to be n+1 of them.
export async function waitNth(container, role, n, what) {
  await waitVisible(container.locator(sel.msg(role)).nth(n), what);
}

// A panel's conversation id, once the server has opened it (with its token).
export async function conversationOf(panel, what) {
  const deadline = Date.now() + T;
  while (Date.now() < deadline) {
    const id = await panel.getAttribute('data-conversation', { timeout: T });
    if (id) return id;
    await panel.page().waitForTimeout(50);
  }
  return fail(`timed out after ${T} ms waiting for ${what} to get its conversation from the server`);
}

export async function noXss(page, label) {
  const value = await page.evaluate(() => window.__xss);
  if (value !== undefined) fail(`${label}: window.__xss is ${JSON.stringify(value)}: chat text was run as HTML`);
}

/// Starts Debian's Chromium (CHROMIUM overrides the path).
export async function launch() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) {
    fail(`no Chromium at ${executablePath}: apt-get install -y chromium, or set CHROMIUM=/path/to/chromium`);
  }
  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return browser;
}

/// Runs a script's main under a watchdog; prints the tally, or the failing step with screenshots.
export function run(main) {
  const watchdog = setTimeout(() => {
    console.error(`FAIL (${step}): the test took more than ${WATCHDOG_MS / 1000} s`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  main().then(
    async () => {
      if (browser) await browser.close();
      console.log(`${passed} passed, 0 failed`);
      process.exit(0);
    },
    async (err) => {
      console.error(`FAIL (step ${step}): ${err && err.message ? err.message : err}`);
      if (problems.length && !String(err && err.message).includes('browser reported errors')) {
        console.error(`browser errors seen:\n  ${problems.join('\n  ')}`);
      }
      if (browser) {
        try {
          fs.mkdirSync(shotDir, { recursive: true });
          for (const [i, page] of browser.contexts().flatMap((c) => c.pages()).entries()) {
            await page.screenshot({ path: path.join(shotDir, `failure-${i}.png`), fullPage: true, timeout: 3000 }).catch(() => {});
          }
        } catch { /* best effort */ }
        await browser.close().catch(() => {});
      }
      console.error(`${passed} passed, 1 failed`);
      process.exit(1);
    },
  );
}
