// The overview page (/): charts from the embedded data, then live — every event from /events is
// listed and the figures, the map and the enterprise states are fetched afresh.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var root = document.querySelector("[data-overview]");
  if (!root || !window.echarts || !window.fenheLive) { return; }
  var L = window.fenheLive;
  var labels = L.readJson("overview-labels") || {};
  var data = L.readJson("overview-data");
  var charts = new L.Charts(root, false);
  if (data) { charts.draw(data, labels); }

  function apply(d) {
    L.updateTiles(d);
    charts.draw(d, labels);
    d.enterprises.forEach(function (e) {
      var row = root.querySelector('tr[data-enterprise="' + CSS.escape(e.id) + '"]');
      if (!row) { return; }
      var cells = row.querySelectorAll("td");
      var badge = cells[1] && cells[1].querySelector(".state");
      if (badge) {
        badge.className = "state state-" + e.state;
        badge.textContent = labels["overview.state." + e.state] || e.state;
      }
      if (cells[2]) { cells[2].textContent = e.devices_online + " / " + e.devices; }
      if (cells[3]) { cells[3].textContent = e.open_alarms; }
    });
    var kindsTable = root.querySelector("#alarms-by-kind");
    var kindsEmpty = root.querySelector("#alarms-by-kind-empty");
    if (kindsTable && kindsEmpty) {
      kindsTable.hidden = d.alarms_by_kind.length === 0;
      kindsEmpty.hidden = d.alarms_by_kind.length !== 0;
    }
    var kinds = root.querySelector("#alarms-by-kind tbody");
    if (kinds) {
      kinds.textContent = "";
      d.alarms_by_kind.forEach(function (k) {
        var tr = document.createElement("tr");
        var name = document.createElement("td");
        name.textContent = labels.kinds[k.kind] || k.kind;
        var n = document.createElement("td");
        n.className = "num";
        n.textContent = k.count;
        tr.appendChild(name);
        tr.appendChild(n);
        kinds.appendChild(tr);
      });
    }
  }

  var refresher = new L.Refresher(root.dataset.overview, apply);
  var list = document.getElementById("live-events");
  L.listen(root.dataset.events, labels, refresher, function (e) { L.showEvent(list, e, labels, 30); });
});
