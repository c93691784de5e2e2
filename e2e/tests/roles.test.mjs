// Every role signs in through the form and walks every page its navigation offers, in Chinese
// and in English, at desktop and tablet widths: each page answers, has no console errors or
// failed requests, and leaves a screenshot in e2e/screenshots/.
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

// One person of each role in the demo (fgw: the development and reform department).
const PEOPLE = [
  ["admin", "admin"],
  ["leader", "leader"],
  ["bureau", "bureau"],
  ["department", "fgw"],
  ["enterprise", "e01"],
];

for (const [role, username] of PEOPLE) {
  for (const [lang, width] of [["zh", 1440], ["en", 768]]) {
    test(`${role} (${username}) walks every page of the navigation, ${lang}, ${width}px`, async () => {
      const p = await person(browser, demo.base, { lang, width });
      const password = demo.accounts.get(username);
      assert.ok(password, `the demo printed no password for ${username}`);
      await signIn(p, username, password);
      const nav = await p.page.$$eval("nav.mainnav a", (as) => as.map((a) => a.getAttribute("href")));
      assert.ok(nav.length > 0, "a signed-in person has a navigation");
      for (const href of nav) {
        const r = await p.page.goto(`${demo.base}${href}`, { waitUntil: "networkidle" });
        assert.equal(r.status(), 200, `${href} answered ${r.status()} for ${username}`);
        const htmlLang = await p.page.getAttribute("html", "lang");
        assert.equal(htmlLang, lang === "zh" ? "zh-CN" : "en", `${href} is in the chosen language`);
        const title = await p.page.title();
        assert.ok(!title.includes("??"), `${href}: a message key without a text: ${title}`);
        await shot(p, `${role}-${href === "/" ? "overview" : href.slice(1)}-${lang}-${width}`);
      }
      assert.deepEqual(p.problems, [], `console errors or failed requests for ${username}`);
      await p.context.close();
    });
  }
}

test("the navigation follows the role: the enterprise sees no registry, audit or system page", async () => {
  const p = await person(browser, demo.base);
  await signIn(p, "e01", demo.accounts.get("e01"));
  const nav = await p.page.$$eval("nav.mainnav a", (as) => as.map((a) => a.getAttribute("href")));
  for (const forbidden of ["/registry", "/audit", "/system", "/screen"]) {
    assert.ok(!nav.includes(forbidden), `e01's navigation offers ${forbidden}: ${nav}`);
  }
  for (const path of ["/system", "/audit", "/registry"]) {
    const r = await p.page.goto(`${demo.base}${path}`);
    assert.equal(r.status(), 403, `${path} for an enterprise user`);
  }
  await p.context.close();
});

test("a stranger sees only the sign-in page", async () => {
  const p = await person(browser, demo.base);
  for (const path of ["/", "/system", "/enterprises"]) {
    await p.page.goto(`${demo.base}${path}`);
    assert.match(new URL(p.page.url()).pathname, /^\/login/, `${path} sends a stranger to sign in`);
  }
  const api = await p.context.request.get(`${demo.base}/api/v1/enterprises`);
  assert.equal(api.status(), 401);
  assert.equal((await api.json()).error.code, "unauthorized");
  await shot(p, "login-zh-1440");
  assert.deepEqual(p.problems, []);
  await p.context.close();
});
