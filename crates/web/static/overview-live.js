// What the overview page and the wall screen share: reading the embedded data, the trend chart,
// the figures' refresh from /api/v1/overview, and the live stream from /events.
"use strict";

(function () {
  function readJson(id) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function percent(v) {
    return v == null || !isFinite(v) ? "—" : (v * 100).toFixed(1) + "%";
  }

  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  }

  // The tiles both pages carry (ids and data attributes of the templates).
  function updateTiles(data) {
    setText("devices-online", data.devices_online);
    setText("devices-total", data.devices_total);
    setText("open-alarms", data.open_alarms);
    setText("overview-at", String(data.at).slice(0, 16).replace("T", " "));
    [["rate-online", "online"], ["rate-transmission", "transmission"], ["rate-validity", "validity"], ["rate-compliance", "compliance"]]
      .forEach(function (pair) {
        var tile = document.getElementById(pair[0]);
        if (!tile) { return; }
        var today = tile.querySelector("[data-rate-today]");
        var month = tile.querySelector("[data-rate-month]");
        if (today) { today.textContent = percent(data.today[pair[1]]); }
        if (month) { month.textContent = percent(data.month[pair[1]]); }
      });
    var alarms = document.getElementById("tile-alarms");  // both pages: warn when any is open
    if (alarms) { alarms.classList.toggle("tile-warn", data.open_alarms > 0); }
  }

  // Rates of the last `days` days as lines (%), exceeding hours as bars.
  function trendOption(data, labels, days, dark) {
    var rows = (data.trend || []).slice(-days);
    var ink = dark ? "#c9d6e6" : "#5b6777";
    var line = dark ? "rgba(140,170,210,.18)" : "#e7ebf0";
    var pct = function (v) { return v == null ? null : Math.round(v * 1000) / 10; };
    var fs = dark ? 14 : 11;
    return {
      animation: false,
      color: ["#2a5a94", "#1f9aa6", "#1f7a4d", "#c8102e"],
      tooltip: { trigger: "axis" },
      legend: { top: 0, textStyle: { color: ink, fontSize: fs } },
      grid: { left: 44, right: 44, top: 34, bottom: 26 },
      xAxis: { type: "category", data: rows.map(function (r) { return r.day.slice(5); }), axisLabel: { color: ink, fontSize: fs }, axisLine: { lineStyle: { color: line } } },
      yAxis: [
        { type: "value", min: 0, max: 100, axisLabel: { color: ink, formatter: "{value}%", fontSize: fs }, splitLine: { lineStyle: { color: line } } },
        { type: "value", min: 0, minInterval: 1, axisLabel: { color: ink, fontSize: fs }, splitLine: { show: false } }
      ],
      series: [
        { name: labels["overview.rate.transmission"], type: "line", data: rows.map(function (r) { return pct(r.transmission); }), symbolSize: 5 },
        { name: labels["overview.rate.validity"], type: "line", data: rows.map(function (r) { return pct(r.validity); }), symbolSize: 5 },
        { name: labels["overview.rate.compliance"], type: "line", data: rows.map(function (r) { return pct(r.compliance); }), symbolSize: 5, connectNulls: false },
        { name: labels["overview.exceeding_hours"], type: "bar", yAxisIndex: 1, data: rows.map(function (r) { return r.exceeding_hours; }), barMaxWidth: 14, itemStyle: { opacity: 0.6 } }
      ]
    };
  }

  // Charts found by `data-chart` (map, trend), drawn and redrawn from the overview's data.
  function Charts(root, dark) {
    this.items = [];
    var self = this;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      self.items.push({ el: el, kind: el.dataset.chart, days: parseInt(el.dataset.days || "30", 10), chart: echarts.init(el) });
    });
    window.addEventListener("resize", function () { self.items.forEach(function (c) { c.chart.resize(); }); });
    this.dark = dark;
  }
  Charts.prototype.draw = function (data, labels) {
    var dark = this.dark;
    this.items.forEach(function (c) {
      if (c.kind === "map") {
        c.chart.setOption(window.fenheMap.option(data, labels, dark), true);
        if (!c.clickBound) {
          c.clickBound = true;
          c.chart.on("click", function (p) {
            if (p.data && p.data.ent) { window.location.href = "/enterprises/" + encodeURIComponent(p.data.ent.id); }
          });
        }
      } else if (c.kind === "trend") {
        c.chart.setOption(trendOption(data, labels, c.days, dark), true);
      }
    });
  };

  // One line for an event, in the page's language.
  function eventText(e, labels) {
    var what = labels["overview.event." + e.kind] || e.kind;
    var title = labels.lang === "en" ? e.title_en : e.title_zh;
    var kind = e.alarm_kind ? (labels.kinds[e.alarm_kind] || e.alarm_kind) : "";
    var parts = [what];
    if (kind) { parts.push(kind); }
    parts.push(e.outlet || e.mn);
    if (title) { parts.push(title); }
    return parts.join(" · ");
  }

  // Fetch the figures afresh (coalescing bursts of events into one fetch).
  function Refresher(url, apply) {
    this.url = url;
    this.apply = apply;
    this.timer = null;
  }
  Refresher.prototype.now = function () {
    var self = this;
    fetch(this.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { self.apply(data); } })
      .catch(function () { /* the next event or tick tries again */ });
  };
  Refresher.prototype.soon = function () {
    var self = this;
    if (this.timer) { return; }
    this.timer = setTimeout(function () { self.timer = null; self.now(); }, 1200);
  };

  var KINDS = ["alarm_raised", "alarm_updated", "alarm_resolved", "device_online", "device_offline"];

  // Listen to /events: `ready` (on every (re)connection) and `resync` fetch the state afresh;
  // every announcement is shown and makes a fresh fetch soon.
  function listen(url, labels, refresher, onEvent) {
    if (!window.EventSource) { return; }
    var status = document.getElementById("live-status");
    var mark = function (on) {
      if (!status) { return; }
      status.dataset.live = on ? "on" : "off";
      status.textContent = labels[on ? "overview.live.on" : "overview.live.off"];
    };
    var source = new EventSource(url);
    source.onopen = function () { mark(true); };
    source.onerror = function () { mark(false); };
    source.addEventListener("ready", function () { mark(true); refresher.now(); });
    source.addEventListener("resync", function () { refresher.now(); });
    KINDS.forEach(function (kind) {
      source.addEventListener(kind, function (m) {
        var e;
        try { e = JSON.parse(m.data); } catch (err) { return; }
        onEvent(e);
        refresher.soon();
      });
    });
  }

  // Prepend an event to a list, keeping at most `max`.
  function showEvent(list, e, labels, max) {
    if (!list) { return; }
    var empty = list.querySelector("[data-empty]");
    if (empty) { empty.remove(); }
    var li = document.createElement("li");
    li.className = "ev ev-" + e.kind;
    var time = document.createElement("time");
    // China time, whatever the browser's own zone (a wall display may be set to anything).
    time.textContent = new Date(e.at).toLocaleTimeString(labels.lang === "en" ? "en-GB" : "zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
    var text = document.createElement("span");
    text.textContent = eventText(e, labels);
    li.appendChild(time);
    li.appendChild(text);
    list.insertBefore(li, list.firstChild);
    while (list.children.length > max) { list.removeChild(list.lastChild); }
  }

  window.fenheLive = {
    readJson: readJson, percent: percent, setText: setText, updateTiles: updateTiles,
    Charts: Charts, Refresher: Refresher, listen: listen, showEvent: showEvent
  };
})();
