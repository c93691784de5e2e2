// Supervision (督办整改) in the browser, on the real demo: an exceedance alarm is explained by its
// enterprise, rejected by the bureau, and the rectification task the rejection opened is started,
// evidenced (with a photo) and accepted; a major hazard is refused without its "five in place"
// (each problem beside its field) and registered once they are there.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startDemo } from "../lib/fenhe.mjs";
import { launch, person, signIn, fetchAs } from "../lib/browser.mjs";
import { exportRegistry, so2Device } from "../lib/registry.mjs";
import { minuteUpload, sendAll } from "../lib/hj212.mjs";

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

/** A signed-in person (Chinese pages). */
async function as(username) {
  const p = await person(browser, demo.base);
  const password = demo.accounts.get(username);
  assert.ok(password, `the demo printed no password for ${username}`);
  await signIn(p, username, password);
  return p;
}

/** The state badge of the item or review on the page. */
async function stateOf(p) {
  return (await p.page.textContent("#wf-state"))?.trim();
}

/** Unfold the action form `name` (each action's form is a <details>; the first is open). */
async function unfold(p, name) {
  await p.page.$eval(`#act-${name}`, (f) => (f.closest("details").open = true));
}

/** Post the action form `name` of the page (its fields already filled) and wait for the answer. */
async function press(p, name) {
  await Promise.all([p.page.waitForNavigation(), p.page.click(`#act-${name} button[type=submit]`)]);
}

/** A value for a factor of a normal minute: O2 at the reference, the rest at half their limit. */
function normal(factor, outlet) {
  if (factor === "a19001") return outlet.reference_o2 ?? 9;
  const limit = outlet.limits?.filter((l) => l.factor === factor && l.max != null).at(-1);
  return limit ? limit.max / 2 : 50;
}

/**
 * An exceedance alarm of our own: an hour of SO2 far over its limit uploaded late (as 补传 does)
 * for an hour before the demo's backfill, judged by the demo's engine. Resolves to [id, enterprise].
 */
async function exceedance(bureau) {
  const { device, outlet, limit } = so2Device(exportRegistry(demo.db));
  const hour = Math.floor((Date.now() - 5 * 3600_000) / 3600_000) * 3600_000;
  const frames = [];
  for (let m = 0; m < 60; m++) {
    // Values that move a little, as a real analyser's do (constant ones are a finding of their own).
    const wobble = 1 + 0.02 * Math.sin(m);
    const values = {};
    for (const f of device.factors) values[f] = normal(f, outlet) * wobble;
    if (values.a19001 !== undefined) values.a19001 = normal("a19001", outlet);
    values.a21026 = limit * 6 * wobble;
    frames.push(minuteUpload({ mn: device.mn, password: device.password }, hour + m * 60_000, values));
  }
  await sendAll(demo.hj212, frames);
  // The engine runs every 15 s in the demo.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const r = await fetchAs(bureau, `/api/v1/alarms?outlet=${outlet.id}&kind=exceedance`);
    const ours = JSON.parse(r.body).items.find((a) => a.factor === "a21026" && Date.parse(a.start) === hour);
    if (ours) return [ours.id, outlet.enterprise];
    await new Promise((r) => setTimeout(r, 2_000));
  }
  assert.fail(`no SO2 exceedance alarm from ${new Date(hour).toISOString()} at ${outlet.id}`);
}

test("an exceedance alarm explained, rejected, its task started, evidenced and accepted", { timeout: 300_000 }, async () => {
  const bureau = await as("bureau");
  const [alarm, enterprise] = await exceedance(bureau);
  const owner = await as(enterprise.toLowerCase());

  // The enterprise explains from the alarm's page.
  await owner.page.goto(`${demo.base}/alarms/${alarm}`);
  assert.equal(await stateOf(owner), "待说明");
  await unfold(owner, "explain");
  await owner.page.selectOption("#act-explain select[name=reason]", "process_upset");
  await owner.page.fill("#act-explain textarea[name=text]", "原料配比波动，已调整工况。");
  await press(owner, "explain");
  assert.equal(new URL(owner.page.url()).pathname, `/alarms/${alarm}`);
  assert.equal(await stateOf(owner), "已说明待审核");

  // The bureau rejects it with a reason.
  await bureau.page.goto(`${demo.base}/alarms/${alarm}`);
  await unfold(bureau, "reject");
  await bureau.page.fill("#act-reject textarea[name=reason]", "工况波动不能作为超标理由。");
  await press(bureau, "reject");
  assert.equal(await stateOf(bureau), "已驳回");
  const timeline = await bureau.page.textContent("#wf-timeline");
  assert.ok(timeline.includes("提交说明") && timeline.includes("驳回"), timeline);

  // The task it opened names the alarm; the enterprise starts it.
  await owner.page.goto(`${demo.base}/tasks?enterprise=${enterprise}`);
  const hrefs = await owner.page.$$eval("#wf-table a", (as) => as.map((a) => a.getAttribute("href")));
  let task = null;
  for (const href of hrefs) {
    await owner.page.goto(`${demo.base}${href}`);
    if (await owner.page.$(`#wf-facts a[href="/alarms/${alarm}"]`)) {
      task = href;
      break;
    }
  }
  assert.ok(task, `a task of ${enterprise} names alarm ${alarm}: ${hrefs}`);
  assert.equal(await stateOf(owner), "已下达");
  await unfold(owner, "start");
  await press(owner, "start");
  assert.equal(await stateOf(owner), "整改中");

  // Evidence with a photo.
  await unfold(owner, "submit");
  await owner.page.fill("#act-submit textarea[name=evidence]", "已修订原料配比控制规程，附现场照片。");
  await owner.page.setInputFiles("#act-submit input[type=file]", {
    name: "现场照片.png",
    mimeType: "image/png",
    buffer: Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a3e0f1ee0000000049454e44ae426082", "hex"),
  });
  await press(owner, "submit");
  assert.equal(await stateOf(owner), "待验收");
  const file = await owner.page.getAttribute("#wf-timeline a[href^='/files/']", "href");
  assert.ok(file, "the photo is on the timeline");
  assert.equal((await fetchAs(owner, file)).status, 200);

  // The bureau accepts: closed (销号).
  await bureau.page.goto(`${demo.base}${task}`);
  await unfold(bureau, "accept");
  await press(bureau, "accept");
  assert.equal(await stateOf(bureau), "已通过（销号）");

  for (const p of [owner, bureau]) {
    assert.deepEqual(p.problems, [], "console errors or failed requests");
    await p.context.close();
  }
});

test("a major hazard is refused without its five fields, then registered", async () => {
  const bureau = await as("bureau");
  const page = bureau.page;
  await page.goto(`${demo.base}/hazards/new`);
  await page.selectOption("#f-enterprise", "E04");
  await page.selectOption("#f-grade", "major");
  await page.fill("#f-description", "煤气柜活塞密封老化，存在泄漏风险。");
  const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === "POST"), page.click("#wf-new button[type=submit]")]);
  await page.waitForLoadState("load");
  assert.equal(answer.status(), 422);
  for (const field of ["measures", "funds", "deadline", "responsible", "contingency_plan", "supervising_department"]) {
    assert.ok(await page.$(`#f-e-${field}`), `no problem shown beside ${field}`);
  }
  // What was typed is still there.
  assert.equal(await page.inputValue("#f-description"), "煤气柜活塞密封老化，存在泄漏风险。");
  assert.equal(await page.inputValue("#f-grade"), "major");

  const deadline = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  await page.fill("#f-measures", "更换密封装置，加装泄漏报警。");
  await page.fill("#f-funds", "180");
  await page.fill("#f-deadline", deadline);
  await page.fill("#f-responsible", "设备副总");
  await page.fill("#f-contingency_plan", "煤气泄漏专项应急预案。");
  await page.selectOption("#f-supervising_department", "yjj");
  await Promise.all([page.waitForURL(/\/hazards\/\d+$/), page.click("#wf-new button[type=submit]")]);
  assert.equal(await stateOf(bureau), "已登记");
  const facts = await page.textContent("#wf-facts");
  assert.ok(facts.includes("重大隐患") && facts.includes("应急管理局"), facts);
  // The 422 answer of the first post is the only error status the page met.
  const problems = bureau.problems.filter((p) => !p.includes("422"));
  assert.deepEqual(problems, [], "console errors or failed requests");
  await bureau.context.close();
});
