// Debian's Chromium through playwright-core: a signed-in page per person, the console errors and
// failed requests of every page collected, screenshots into e2e/screenshots/ (ignored by git).
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

const SHOTS = resolve(import.meta.dirname, "../screenshots");

export async function launch() {
  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  return chromium.launch({ executablePath, args: ["--no-sandbox"] });
}

/**
 * A browser context and page for one person (not signed in yet), with `problems` listing every
 * console error, uncaught exception, failed request and HTTP error status the page met.
 */
export async function person(browser, base, { lang = "zh", width = 1440 } = {}) {
  const context = await browser.newContext({ viewport: { width, height: width >= 1200 ? 900 : 1024 }, acceptDownloads: true });
  await context.addCookies([{ name: "lang", value: lang, url: base }]);
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(`console error: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
  return { context, page, problems, base };
}

/** Sign in through the form, as a person does; resolves on the page the form leads to. */
export async function signIn(p, username, password) {
  await p.page.goto(`${p.base}/login`);
  await p.page.fill("#username", username);
  await p.page.fill("#password", password);
  await Promise.all([p.page.waitForURL((u) => !u.pathname.startsWith("/login")), p.page.click("button[type=submit]")]);
}

/** Full-page screenshot named after the page, person and language. */
export async function shot(p, name) {
  mkdirSync(SHOTS, { recursive: true });
  const file = join(SHOTS, `${name.replace(/[^a-zA-Z0-9_-]+/g, "_")}.png`);
  await p.page.screenshot({ path: file, fullPage: true });
  return file;
}

/** GET with the person's cookies (API routes and downloads); { status, type, body }. */
export async function fetchAs(p, path) {
  const r = await p.context.request.get(`${p.base}${path}`, { maxRedirects: 0 });
  return { status: r.status(), type: r.headers()["content-type"] ?? "", body: await r.body() };
}
