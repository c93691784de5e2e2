// The language switch: Chinese by default, English on a click, kept across pages, and back.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startDemo } from "../lib/fenhe.mjs";
import { launch, person, signIn } from "../lib/browser.mjs";

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

test("the English switch changes the page and stays switched", async () => {
  const p = await person(browser, demo.base, { lang: "" });
  await p.context.clearCookies();
  await signIn(p, "bureau", demo.accounts.get("bureau"));
  assert.equal(await p.page.getAttribute("html", "lang"), "zh-CN", "Chinese first");
  const zhNav = await p.page.textContent("nav.mainnav");
  assert.match(zhNav, /[\u4e00-\u9fff]/);
  await Promise.all([p.page.waitForLoadState("load"), p.page.click(".langswitch a[lang=en]")]);
  await p.page.waitForFunction(() => document.documentElement.lang === "en");
  const enNav = await p.page.textContent("nav.mainnav");
  assert.doesNotMatch(enNav, /[\u4e00-\u9fff]/, `English navigation: ${enNav}`);
  // Another page with the frame keeps the choice (the wall screen has no frame).
  const second = await p.page.$$eval("nav.mainnav a", (as) =>
    as.map((a) => a.getAttribute("href")).find((h) => h !== "/" && h !== "/screen"),
  );
  await p.page.goto(`${demo.base}${second}`);
  assert.equal(await p.page.getAttribute("html", "lang"), "en");
  await Promise.all([p.page.waitForLoadState("load"), p.page.click(".langswitch a[lang=zh-CN]")]);
  await p.page.waitForFunction(() => document.documentElement.lang === "zh-CN");
  assert.deepEqual(p.problems, []);
  await p.context.close();
});
