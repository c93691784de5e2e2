// The schematic map of Linfen (临汾市) for the overview and the wall screen.
//
// Not a base map: no boundary data is vendored (the only registry package with Linfen's county
// boundaries carries AMap-derived data for non-commercial use only; see
// static/vendor/linfen/README.md). Instead the map is drawn from facts we wrote down ourselves:
// the seats of the city's 17 county-level divisions at APPROXIMATE coordinates (to about 0.05°,
// from public gazetteers; good enough to orient a reader, not for measurement), as grey labelled
// markers on plain longitude/latitude axes, and the enterprises at their registered coordinates.
// A city that has boundary GeoJSON it may embed can register it with echarts.registerMap and
// swap the axes for a `geo` component (README, "Ways forward").
"use strict";

(function () {
  var COUNTIES = [
    // [name, English, longitude, latitude] of the seat.
    ["尧都区", "Yaodu", 111.52, 36.08],
    ["侯马市", "Houma", 111.37, 35.62],
    ["霍州市", "Huozhou", 111.75, 36.57],
    ["曲沃县", "Quwo", 111.47, 35.64],
    ["翼城县", "Yicheng", 111.72, 35.74],
    ["襄汾县", "Xiangfen", 111.44, 35.88],
    ["洪洞县", "Hongtong", 111.67, 36.25],
    ["古县", "Guxian", 111.92, 36.27],
    ["安泽县", "Anze", 112.25, 36.15],
    ["浮山县", "Fushan", 111.85, 35.97],
    ["吉县", "Jixian", 110.68, 36.10],
    ["乡宁县", "Xiangning", 110.85, 35.97],
    ["大宁县", "Daning", 110.75, 36.46],
    ["隰县", "Xixian", 110.94, 36.69],
    ["永和县", "Yonghe", 110.63, 36.76],
    ["蒲县", "Puxian", 111.10, 36.41],
    ["汾西县", "Fenxi", 111.57, 36.65]
  ];

  var STATE_COLOURS = { exceeding: "#c8102e", offline: "#8a94a3", compliant: "#1f7a4d", no_data: "#d9a400" };
  // On the dark wall screen the same states, lighter so they stand out from the ground.
  var STATE_COLOURS_DARK = { exceeding: "#ff4d64", offline: "#9aa6b5", compliant: "#35d08a", no_data: "#f2c230" };
  var STATE_ORDER = ["exceeding", "offline", "compliant", "no_data"];

  // The ECharts option of the map: `data` is the overview JSON, `labels` the page's labels.
  function option(data, labels, dark) {
    var en = labels.lang === "en";
    var ink = dark ? "#c9d6e6" : "#5b6777";
    var grid = dark ? "rgba(140,170,210,.14)" : "#e7ebf0";
    var counties = COUNTIES.map(function (c) {
      return { name: en ? c[1] : c[0], value: [c[2], c[3]] };
    });
    var series = [{
      name: labels["overview.map.county"],
      type: "scatter",
      symbol: "diamond",
      symbolSize: dark ? 9 : 7,
      itemStyle: { color: dark ? "#7f93ad" : "#8a96a6" },
      label: { show: true, position: "right", color: ink, fontSize: dark ? 14 : 11, formatter: "{b}" },
      data: counties,
      silent: true,
      z: 1
    }];
    STATE_ORDER.forEach(function (state) {
      var points = (data.enterprises || []).filter(function (e) {
        return e.state === state && e.longitude != null && e.latitude != null;
      }).map(function (e) {
        return { name: e.name, value: [e.longitude, e.latitude], ent: e };
      });
      series.push({
        name: labels["overview.state." + state],
        type: "scatter",
        symbolSize: dark ? 22 : 15,
        itemStyle: { color: (dark ? STATE_COLOURS_DARK : STATE_COLOURS)[state], borderColor: dark ? "#0b1626" : "#fff", borderWidth: 1.5 },
        emphasis: { scale: 1.4 },
        data: points,
        cursor: "pointer",
        z: 3
      });
    });
    return {
      animation: false,
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: false },
      legend: {
        top: 0,
        textStyle: { color: ink, fontSize: dark ? 15 : 12 },
        data: STATE_ORDER.map(function (s) { return labels["overview.state." + s]; })
      },
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          var e = p.data && p.data.ent;
          if (!e) { return p.name; }
          return "<b>" + escapeHtml(e.name) + "</b><br>" +
            escapeHtml(labels["overview.state." + e.state]) + "<br>" +
            escapeHtml(labels["overview.devices"]) + " " + e.devices_online + " / " + e.devices + "<br>" +
            escapeHtml(labels["overview.alarms"]) + " " + e.open_alarms + "<br>" +
            "<i>" + escapeHtml(labels["overview.map.open"]) + "</i>";
        }
      },
      // Plain degrees; one degree of longitude at 36°N is about 0.81 of one of latitude, which the
      // container's proportions (a CSS class) keep roughly right.
      xAxis: { type: "value", min: 110.3, max: 112.6, show: true, axisLabel: { show: false }, axisTick: { show: false }, axisLine: { show: false }, splitLine: { lineStyle: { color: grid } } },
      yAxis: { type: "value", min: 35.4, max: 37.0, show: true, axisLabel: { show: false }, axisTick: { show: false }, axisLine: { show: false }, splitLine: { lineStyle: { color: grid } } },
      series: series
    };
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  window.fenheMap = { COUNTIES: COUNTIES, STATE_COLOURS: STATE_COLOURS, option: option, escapeHtml: escapeHtml };
})();
