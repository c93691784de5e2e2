// The alarm page's chart: the hourly (and, for short windows, minute) values of the factor
// concerned around the alarm's period, the limit in force as a line, the alarm's period shaded
// and exceeding hours marked. Data come from the page's <script type="application/json"> block
// named by data-alarm-chart (the CSP allows no inline script).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var el = document.querySelector("[data-alarm-chart]");
  if (!el || typeof echarts === "undefined") return;
  var block = document.getElementById(el.dataset.alarmChart);
  if (!block) return;
  var d;
  try {
    d = JSON.parse(block.textContent);
  } catch (e) {
    return;
  }
  var HALF_HOUR = 30 * 60 * 1000;
  // Times are shown in China time whatever the browser's zone: shifted by +8 h and drawn as UTC.
  var CST = 8 * 3600 * 1000;
  var t = function (ms) { return ms + CST; };
  var L = d.labels;
  // An hour's mean is drawn at the middle of its hour; the limit holds over the whole hour.
  var hours = d.hours.map(function (h) { return [t(h[0] + HALF_HOUR), h[1]]; });
  var over = d.hours.filter(function (h) { return h[2]; }).map(function (h) { return [t(h[0] + HALF_HOUR), h[1]]; });
  var minutes = d.minutes.map(function (m) { return [t(m[0]), m[1]]; });
  var limit = [];
  d.limit.forEach(function (l) {
    limit.push([t(l[0]), l[1]]);
    limit.push([t(l[0] + 2 * HALF_HOUR), l[1]]);
  });
  var series = [];
  if (d.minutes.length) {
    series.push({
      name: L.minute, type: "line", data: minutes, showSymbol: false,
      lineStyle: { width: 1, opacity: 0.55 }, itemStyle: { color: "#7f93ad" }, connectNulls: false
    });
  }
  series.push({
    name: L.hourly, type: "line", data: hours, symbolSize: 5, connectNulls: false,
    lineStyle: { width: 2 }, itemStyle: { color: "#1b3f6b" },
    markArea: {
      silent: true, itemStyle: { color: "rgba(200,16,46,0.08)" },
      label: { show: true, position: "insideTop", color: "#8a1020", formatter: L.period },
      data: [[{ xAxis: t(d.start) }, { xAxis: t(Math.max(d.end, d.start + 60000)) }]]
    }
  });
  series.push({
    name: L.limit, type: "line", data: limit, showSymbol: false, connectNulls: false,
    lineStyle: { type: "dashed", width: 1.5 }, itemStyle: { color: "#c8102e" }
  });
  if (over.length) {
    series.push({ name: L.exceeding, type: "scatter", data: over, symbolSize: 10, z: 5, itemStyle: { color: "#c8102e" } });
  }
  var chart = echarts.init(el, null, { locale: d.lang === "en" ? "EN" : "ZH" });
  chart.setOption({
    animation: false,
    useUTC: true,
    grid: { left: 56, right: 24, top: 40, bottom: 64 },
    legend: { top: 4 },
    tooltip: { trigger: "axis" },
    xAxis: {
      type: "time", min: t(d.from), max: t(d.to),
      axisLabel: { hideOverlap: true, formatter: { year: "{yyyy}", month: "{MM}-{dd}", day: "{MM}-{dd}", hour: "{HH}:{mm}", minute: "{HH}:{mm}" } }
    },
    yAxis: { type: "value", name: d.factor, scale: true },
    dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 12 }],
    series: series
  });
  window.addEventListener("resize", function () { chart.resize(); });
});
