// An enterprise user asks for another enterprise's pages, API routes and downloads and is
// refused with the very answer a nonexistent identifier gets (so nothing leaks); their own
// enterprise's equivalents answer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startDemo } from "../lib/fenhe.mjs";
import { launch, person, signIn, fetchAs } from "../lib/browser.mjs";

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

/** The first outlet of an enterprise, asked of the API by someone who may see it. */
async function firstOutlet(p, enterprise) {
  const r = await fetchAs(p, `/api/v1/outlets?enterprise=${enterprise}`);
  assert.equal(r.status, 200, `outlets of ${enterprise}: ${r.body}`);
  const list = JSON.parse(r.body);
  const items = list.items ?? list;
  assert.ok(items.length > 0, `${enterprise} has outlets`);
  return items[0].id;
}

test("e01 is refused everything of E02, exactly as if it did not exist", async () => {
  const admin = await person(browser, demo.base);
  await signIn(admin, "admin", demo.accounts.get("admin"));
  const theirs = await firstOutlet(admin, "E02");
  const mine = await firstOutlet(admin, "E01");
  await admin.context.close();

  const p = await person(browser, demo.base);
  await signIn(p, "e01", demo.accounts.get("e01"));
  const paths = (enterprise, outlet) => [
    `/enterprises/${enterprise}`,
    `/outlets/${outlet}`,
    `/api/v1/enterprises/${enterprise}`,
    `/api/v1/outlets/${outlet}`,
    `/api/v1/outlets/${outlet}/series?resolution=hour`,
    `/api/v1/outlets/${outlet}/series?resolution=hour&format=csv`,
    `/api/v1/outlets/${outlet}/series?resolution=hour&format=xlsx`,
  ];
  const own = paths("E01", mine);
  const other = paths("E02", theirs);
  const missing = paths("E99", "E99-DA999");
  for (let i = 0; i < own.length; i++) {
    const a = await fetchAs(p, own[i]);
    assert.equal(a.status, 200, `${own[i]} for its own user`);
    const b = await fetchAs(p, other[i]);
    const c = await fetchAs(p, missing[i]);
    assert.equal(b.status, 404, `${other[i]} answered ${b.status} to another enterprise's user`);
    assert.equal(c.status, 404, `${missing[i]}`);
    // Same answer apart from the identifier itself.
    // Longest id first: an outlet's id holds its enterprise's.
    const scrub = (body, ids) =>
      ids.sort((x, y) => y.length - x.length).reduce((s, id) => s.split(id).join("ID"), body.toString());
    assert.equal(scrub(b.body, ["E02", theirs]), scrub(c.body, ["E99", "E99-DA999"]), `${other[i]} leaks existence`);
  }
  // Lists show only the own enterprise.
  const list = JSON.parse((await fetchAs(p, "/api/v1/enterprises")).body);
  const ids = (list.items ?? list).map((e) => e.id);
  assert.deepEqual(ids, ["E01"]);
  const alarms = JSON.parse((await fetchAs(p, "/api/v1/alarms")).body);
  for (const a of alarms.items ?? alarms) assert.equal(a.enterprise, "E01", JSON.stringify(a));
  const devices = JSON.parse((await fetchAs(p, "/api/v1/devices")).body);
  for (const d of devices.items ?? devices) assert.equal(d.enterprise, "E01", JSON.stringify(d));
  await p.context.close();
});
