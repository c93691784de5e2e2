// A registry form with a wrong credit code shows its message beside the field and keeps what
// was typed; nothing is changed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startDemo } from "../lib/fenhe.mjs";
import { launch, person, signIn, shot } from "../lib/browser.mjs";

let demo;
let browser;
before(async () => {
  demo = await startDemo();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await demo?.stop();
});

test("an enterprise form with a bad USCC shows why, beside the field, and keeps the input", async () => {
  const p = await person(browser, demo.base);
  await signIn(p, "admin", demo.accounts.get("admin"));
  await p.page.goto(`${demo.base}/registry/enterprises/E01`, { waitUntil: "networkidle" });
  const uscc = p.page.locator("input[name=uscc]");
  await uscc.fill("91141000MA0X00000X");
  const name = p.page.locator("input[name=name]");
  const typedName = "汾河热电有限责任公司（改）";
  await name.fill(typedName);
  await Promise.all([p.page.waitForLoadState("load"), p.page.locator("form button[type=submit]").last().click()]);
  assert.equal(await uscc.getAttribute("aria-invalid"), "true", "the USCC field is marked");
  assert.equal(await uscc.inputValue(), "91141000MA0X00000X", "the typed value is kept");
  assert.equal(await name.inputValue(), typedName);
  const message = await p.page.textContent("body");
  assert.match(message, /统一社会信用代码|信用代码/, "the message names the credit code");
  await shot(p, "registry-enterprise-invalid-zh-1440");
  // The refused form answers 422, which Chromium reports as a failed resource; nothing else.
  assert.deepEqual(p.problems.filter((m) => !/422/.test(m)), []);
  // Nothing changed.
  await p.page.goto(`${demo.base}/enterprises/E01`);
  assert.doesNotMatch(await p.page.textContent("body"), /（改）/);
  await p.context.close();
});
