// Shared by the browser tests: launch Debian's Chromium (never a downloaded
// one), print one line per step, take one screenshot per step, and fail
// with what was expected and what was seen.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

/** This folder (tests/browser). */
export const HERE = path.dirname(fileURLToPath(import.meta.url));

export const TIMEOUT_MS = Number(process.env.STEP_TIMEOUT_MS || 10_000);

export function env(name, fallback) {
  const value = process.env[name];
  if (value !== undefined && value !== "") return value;
  if (fallback !== undefined) return fallback;
  throw new Error(`set ${name}`);
}

export function baseUrl() {
  return env("BASE_URL", "http://127.0.0.1:8080").replace(/\/+$/, "");
}

/** Fail unless `actual` equals `expected`. */
export function expectEqual(actual, expected, what) {
  if (actual !== expected) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, saw ${JSON.stringify(actual)}`);
  }
}

/**
 * Poll `read` until `ok(value)` holds; fail with the last value seen.
 * `expected` describes what was waited for.
 */
export async function waitUntil(read, ok, expected, timeout = TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  let seen;
  let lastError;
  for (;;) {
    try {
      seen = await read();
      lastError = undefined;
      if (ok(seen)) return seen;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const saw = lastError ? `error ${lastError.message.split("\n")[0]}` : JSON.stringify(seen);
      throw new Error(`expected ${expected} within ${timeout} ms, saw ${saw}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The trimmed text of a locator, or null when it is absent or hidden. */
export async function visibleText(locator) {
  if ((await locator.count()) === 0) return null;
  if (!(await locator.first().isVisible())) return null;
  return (await locator.first().innerText()).trim();
}

/** Wait for `locator` to show text satisfying `ok`. */
export function waitForText(locator, ok, expected, timeout) {
  return waitUntil(() => visibleText(locator), (t) => t !== null && ok(t), expected, timeout);
}

/**
 * Run a browser test: `body({ page, step, context })`. Exits 1 on failure;
 * the browser is always closed.
 */
export async function run(name, body) {
  const shotsDir = path.resolve(env("SCREENSHOTS", path.join(HERE, "screenshots")));
  mkdirSync(shotsDir, { recursive: true });
  const started = Date.now();
  let browser;
  let page;
  let count = 0;
  let current = "launch";
  const pageErrors = [];
  const step = async (title, fn) => {
    current = title;
    const t0 = Date.now();
    await fn();
    count += 1;
    if (shotsDir && page && !page.isClosed()) {
      const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60);
      const file = path.join(shotsDir, `${name}-${String(count).padStart(2, "0")}-${slug}.png`);
      await page.screenshot({ path: file, fullPage: true });
    }
    if (pageErrors.length) {
      throw new Error(`the page threw: ${pageErrors.join(" | ")}`);
    }
    console.log(`ok ${count} - ${title} (${Date.now() - t0} ms)`);
  };
  try {
    browser = await chromium.launch({
      executablePath: env("CHROMIUM", "/usr/bin/chromium"),
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    context.setDefaultTimeout(TIMEOUT_MS);
    page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await body({ page, step, context });
    console.log(`${name}: all ${count} steps passed in ${Date.now() - started} ms`);
  } catch (error) {
    console.error(`not ok - ${current}: ${error.message}`);
    if (shotsDir && page && !page.isClosed()) {
      const file = path.join(shotsDir, `${name}-failure.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`  screenshot: ${file}`);
    }
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
}
