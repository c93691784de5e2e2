// The wall screen (/screen): the overview's charts, dark; the enterprises one after another every
// `data-rotate` seconds; live by /events and a fresh fetch every minute (a wall display runs for
// days: it must not depend on the stream alone).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var body = document.body;
  if (!body.dataset.screen || !window.echarts || !window.fenheLive) { return; }
  var L = window.fenheLive;
  var labels = L.readJson("overview-labels") || {};
  var data = L.readJson("overview-data") || { enterprises: [] };
  var charts = new L.Charts(body, true);
  charts.draw(data, labels);

  var index = 0;
  function showEnterprise() {
    var list = data.enterprises || [];
    if (!list.length) { return; }
    index = index % list.length;
    var e = list[index];
    L.setText("rotor-count", (index + 1) + " / " + list.length);
    L.setText("rotor-name", e.name);
    var state = document.getElementById("rotor-state");
    if (state) {
      state.className = "scr-ent-state state state-" + e.state;
      state.textContent = labels["overview.state." + e.state] || e.state;
    }
    L.setText("rotor-online", e.devices_online + " / " + e.devices);
    L.setText("rotor-alarms", e.open_alarms);
    L.setText("rotor-transmission", L.percent(e.month_transmission));
    L.setText("rotor-compliance", L.percent(e.month_compliance));
    var ex = document.getElementById("rotor-exceeding");
    if (ex) { ex.textContent = e.exceeding_outlets.length ? e.exceeding_outlets.join(", ") : ex.dataset.none; }
  }
  showEnterprise();
  var seconds = Math.min(300, Math.max(3, parseInt(body.dataset.rotate || "10", 10) || 10));
  setInterval(function () { index += 1; showEnterprise(); }, seconds * 1000);

  function apply(d) {
    data = d;
    L.updateTiles(d);
    charts.draw(d, labels);
    showEnterprise();
  }
  var refresher = new L.Refresher(body.dataset.screen, apply);
  setInterval(function () { refresher.now(); }, 60000);
  var list = document.getElementById("live-events");
  L.listen(body.dataset.events, labels, refresher, function (e) { L.showEvent(list, e, labels, 12); });
});
