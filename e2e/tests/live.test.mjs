// An officer watches the overview while a data logger uploads (late, as 补传 does) an hour of SO2
// far over its limit: the compliance cycle judges it, and the new exceedance alarm appears on the
// open page through server-sent events — no reload.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startDemo } from "../lib/fenhe.mjs";
import { launch, person, signIn, shot, fetchAs } from "../lib/browser.mjs";
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

/** A value for a factor of a normal minute: O2 at the reference, the rest at half their limit. */
function normal(factor, outlet) {
  if (factor === "a19001") return outlet.reference_o2 ?? 9;
  const limit = outlet.limits?.filter((l) => l.factor === factor && l.max != null).at(-1);
  return limit ? limit.max / 2 : 50;
}

test("a new exceedance alarm appears on the open overview without a reload", { timeout: 240_000 }, async () => {
  const { device, outlet, limit } = so2Device(exportRegistry(demo.db));
  const p = await person(browser, demo.base);
  await signIn(p, "bureau", demo.accounts.get("bureau"));
  await p.page.goto(`${demo.base}/`);
  await p.page.waitForSelector("#live-status[data-live=on]", { timeout: 30_000 });
  // A mark that a reload would wipe.
  await p.page.evaluate(() => (window.__noReload = true));

  // An hour before the demo's backfill (two hours), so nothing of it is stored yet.
  const hour = Math.floor((Date.now() - 5 * 3600_000) / 3600_000) * 3600_000;
  const frames = [];
  for (let m = 0; m < 60; m++) {
    // Values that move a little, as a real analyser's do (constant ones are a data-quality
    // finding of their own, which would make the hour invalid instead of exceeding).
    const wobble = 1 + 0.02 * Math.sin(m);
    const values = {};
    for (const f of device.factors) values[f] = normal(f, outlet) * wobble;
    if (values.a19001 !== undefined) values.a19001 = normal("a19001", outlet);
    values.a21026 = limit * 6 * wobble;
    frames.push(minuteUpload({ mn: device.mn, password: device.password }, hour + m * 60_000, values));
  }
  await sendAll(demo.hj212, frames);

  // The engine runs every 15 s in the demo and the page's events poll every 3 s. The episode is
  // in the past, so its alarm is resolved as it is raised: the live list announces it.
  await p.page.waitForFunction(
    (outletId) =>
      [...document.querySelectorAll("#live-events li")].some(
        (li) => li.textContent.includes(outletId) && li.textContent.includes("超标"),
      ),
    outlet.id,
    { timeout: 120_000 },
  );
  assert.equal(await p.page.evaluate(() => window.__noReload), true, "the page was not reloaded");
  // The new alarm is this episode's: an open exceedance of SO2 at this outlet from that hour.
  const alarms = JSON.parse((await fetchAs(p, `/api/v1/alarms?outlet=${outlet.id}&kind=exceedance`)).body).items;
  const ours = alarms.find((a) => a.factor === "a21026" && Date.parse(a.start) === hour);
  assert.ok(ours, `no SO2 exceedance from ${new Date(hour).toISOString()} at ${outlet.id}: ${JSON.stringify(alarms)}`);
  const events = await p.page.textContent("#live-events");
  await shot(p, "live-overview-after-alarm-zh-1440");
  assert.ok(events.trim().length > 0, "the live list shows the event");
  assert.deepEqual(p.problems, []);
  await p.context.close();
});
