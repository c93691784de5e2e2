// The outlet explorer: the chart draws (its canvas has coloured pixels) with the limit line in
// its series; the CSV download is UTF-8 with a BOM and parses; an enterprise user's download of
// another enterprise's outlet is refused (see isolation.test.mjs for the rest).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startDemo } from "../lib/fenhe.mjs";
import { launch, person, signIn, shot, fetchAs } from "../lib/browser.mjs";

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

test("the outlet chart renders with its limit line, and its CSV parses", async () => {
  const p = await person(browser, demo.base);
  await signIn(p, "e01", demo.accounts.get("e01"));
  const outlets = JSON.parse((await fetchAs(p, "/api/v1/outlets?enterprise=E01")).body);
  const outlet = (outlets.items ?? outlets)[0].id;
  await p.page.goto(`${demo.base}/outlets/${outlet}?resolution=minute`, { waitUntil: "networkidle" });
  const canvas = await p.page.waitForSelector("canvas", { timeout: 20_000 });
  await p.page.waitForTimeout(1000); // the chart animates in
  // Coloured pixels on the canvas: something was drawn, not a blank box.
  const drawn = await canvas.evaluate((c) => {
    const ctx = c.getContext("2d");
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    let coloured = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
      if (a > 0 && (Math.abs(r - g) > 30 || Math.abs(g - b) > 30 || Math.abs(r - b) > 30)) coloured++;
    }
    return coloured;
  });
  assert.ok(drawn > 500, `the chart drew only ${drawn} coloured pixels`);
  // The limit is one of the chart's series (ECharts keeps them on the instance).
  const names = await p.page.evaluate(() => {
    const el = document.querySelector("[_echarts_instance_]");
    const chart = el && window.echarts?.getInstanceByDom(el);
    return chart ? chart.getOption().series.map((s) => `${s.name}|${s.step ?? ""}`) : [];
  });
  assert.ok(names.some((n) => /限值|limit/i.test(n)), `no limit series among ${names}`);
  await shot(p, "outlet-minute-zh-1440");

  // The CSV link on the page downloads exactly what is shown.
  const csvHref = await p.page.getAttribute("a[href*='format=csv']", "href");
  assert.ok(csvHref, "the page offers a CSV download");
  const csv = await fetchAs(p, csvHref);
  assert.equal(csv.status, 200);
  assert.match(csv.type, /text\/csv/);
  assert.deepEqual([...csv.body.subarray(0, 3)], [0xef, 0xbb, 0xbf], "UTF-8 with a BOM, so Excel reads it right");
  const lines = csv.body.subarray(3).toString("utf8").trim().split(/\r?\n/);
  assert.ok(lines.length >= 2, "a header and rows");
  const width = lines[0].split(",").length;
  for (const l of lines.slice(1, 50)) assert.equal(l.split(",").length, width, `a row of another width: ${l}`);
  const xlsx = await fetchAs(p, csvHref.replace("format=csv", "format=xlsx"));
  assert.equal(xlsx.status, 200);
  assert.equal(xlsx.body.subarray(0, 2).toString("latin1"), "PK", "an XLSX is a zip");
  assert.deepEqual(p.problems, []);
  await p.context.close();
});
