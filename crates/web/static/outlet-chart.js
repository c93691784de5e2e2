// The outlet explorer (/outlets/{id}): reads the series from the JSON API address in the chart's
// data-series attribute and draws it with ECharts — measured and converted values, the limit in
// force as steps, data-flag bands, invalid periods and exceedance episodes shaded, zoom — and the
// same rows in a paginated table beneath. The texts come in data-labels (the page's language).
// No inline script is allowed by the CSP, so the page finds this file by the element's id.
"use strict";

(function () {
  var CHINA_OFFSET_MS = 8 * 3600 * 1000;
  var ROWS_PER_PAGE = 100;
  var FLAG_COLOURS = {
    F: "rgba(90, 90, 90, 0.22)",
    M: "rgba(240, 180, 0, 0.22)",
    S: "rgba(42, 157, 143, 0.22)",
    D: "rgba(139, 0, 0, 0.18)",
    C: "rgba(106, 90, 205, 0.2)",
    T: "rgba(255, 127, 80, 0.25)",
    B: "rgba(160, 82, 45, 0.2)"
  };
  var EXCEEDANCE_COLOUR = "rgba(200, 16, 46, 0.16)";
  var INVALID_COLOUR = "rgba(120, 130, 140, 0.18)";

  // Times are drawn in China time whatever the browser's zone: ECharts is told to use UTC and
  // every instant is shifted by +8 h.
  function shown(ms) {
    return ms + CHINA_OFFSET_MS;
  }

  function num(v) {
    if (v === null || v === undefined || !isFinite(v)) {
      return "—";
    }
    return String(Math.round(v * 1000) / 1000);
  }

  function timeText(iso, resolution) {
    var t = iso.substring(0, 16).replace("T", " ");
    return resolution === "day" ? t.substring(0, 10) : t;
  }

  function lookup(pairs, key) {
    for (var i = 0; i < pairs.length; i++) {
      if (pairs[i][0] === key) {
        return pairs[i][1];
      }
    }
    return key;
  }

  function stepMs(resolution) {
    return resolution === "day" ? 86400000 : resolution === "hour" ? 3600000 : 60000;
  }

  // Consecutive invalid periods as bands (minutes show their flags instead).
  function invalidBands(points, resolution) {
    var out = [];
    if (resolution === "minute") {
      return out;
    }
    var step = stepMs(resolution);
    points.forEach(function (p) {
      if (p.valid) {
        return;
      }
      var last = out[out.length - 1];
      if (last && last.to_ms >= p.t_ms) {
        last.to_ms = p.t_ms + step;
      } else {
        out.push({ from_ms: p.t_ms, to_ms: p.t_ms + step });
      }
    });
    return out;
  }

  function area(from, to, colour, name) {
    return [{ name: name, xAxis: shown(from), itemStyle: { color: colour } }, { xAxis: shown(to) }];
  }

  function limitLine(steps, key) {
    var data = [];
    steps.forEach(function (s) {
      if (s[key] === null || s[key] === undefined) {
        data.push([shown(s.from_ms), null]);
        return;
      }
      data.push([shown(s.from_ms), s[key]]);
      data.push([shown(s.to_ms), s[key]]);
    });
    return data;
  }

  function draw(el, data, L) {
    var f = data.factors[0];
    if (!f || f.points.length === 0) {
      el.textContent = "";
      var p = document.createElement("p");
      p.className = "empty";
      p.id = "series-empty";
      p.textContent = L.no_data;
      el.appendChild(p);
      el.classList.add("chart-empty");
      return;
    }
    var en = L.lang === "en";
    var unit = en ? f.unit_en : f.unit_zh;
    var name = en ? f.name_en : f.name_zh;
    var areas = [];
    f.episodes.forEach(function (b) {
      areas.push(area(b.from_ms, b.to_ms, EXCEEDANCE_COLOUR, L.exceedance));
    });
    invalidBands(f.points, data.resolution).forEach(function (b) {
      areas.push(area(b.from_ms, b.to_ms, INVALID_COLOUR, L.invalid));
    });
    f.flags.forEach(function (b) {
      areas.push(area(b.from_ms, b.to_ms, FLAG_COLOURS[b.kind] || INVALID_COLOUR, lookup(L.flags, b.kind)));
    });
    var series = [
      {
        name: L.measured,
        type: "line",
        showSymbol: false,
        connectNulls: false,
        data: f.points.map(function (p) {
          return [shown(p.t_ms), p.value];
        }),
        markArea: { silent: true, label: { show: false }, data: areas }
      }
    ];
    if (f.converted) {
      series.push({
        name: L.converted,
        type: "line",
        showSymbol: false,
        data: f.points.map(function (p) {
          return [shown(p.t_ms), p.converted];
        })
      });
    }
    var judged = f.converted ? "converted" : "value";
    var exceeding = f.points.filter(function (p) {
      return p.exceeds;
    });
    if (exceeding.length > 0) {
      series.push({
        name: L.exceedance,
        type: "scatter",
        symbolSize: 7,
        itemStyle: { color: "#c8102e" },
        data: exceeding.map(function (p) {
          return [shown(p.t_ms), p[judged]];
        })
      });
    }
    if (f.limits.some(function (s) { return s.max !== null; })) {
      series.push({
        name: L.limit,
        type: "line",
        showSymbol: false,
        lineStyle: { type: "dashed", color: "#c8102e", width: 1.5 },
        itemStyle: { color: "#c8102e" },
        data: limitLine(f.limits, "max")
      });
    }
    if (f.limits.some(function (s) { return s.min !== null; })) {
      series.push({
        name: L.limit_min,
        type: "line",
        showSymbol: false,
        lineStyle: { type: "dashed", color: "#b35c00", width: 1.5 },
        itemStyle: { color: "#b35c00" },
        data: limitLine(f.limits, "min")
      });
    }
    el.textContent = "";
    var chart = window.echarts.init(el, null, { locale: en ? "EN" : "ZH" });
    chart.setOption({
      useUTC: true,
      animation: false,
      color: ["#2a5a94", "#1f7a4d", "#c8102e"],
      title: { text: name + (unit ? " (" + unit + ")" : ""), left: 0, textStyle: { fontSize: 14, fontWeight: 600 } },
      legend: { top: 0, right: 0 },
      tooltip: {
        trigger: "axis",
        valueFormatter: function (v) {
          return num(v);
        }
      },
      grid: { left: 8, right: 16, top: 48, bottom: 64, containLabel: true },
      xAxis: { type: "time", min: shown(data.from_ms), max: shown(data.to_ms) },
      // From zero, so a value's distance to its limit reads true; the unit is in the title.
      yAxis: { type: "value" },
      dataZoom: [{ type: "inside" }, { type: "slider", bottom: 12 }],
      series: series
    });
    window.addEventListener("resize", function () {
      chart.resize();
    });
    el.dataset.drawn = "true";
  }

  function table(holder, data, L) {
    var f = data.factors[0];
    holder.textContent = "";
    if (!f || f.points.length === 0) {
      return;
    }
    var minute = data.resolution === "minute";
    var devices = {};
    f.points.forEach(function (p) {
      devices[p.mn] = true;
    });
    var manyDevices = Object.keys(devices).length > 1;
    var cols = [{ head: L.time, cell: function (p) { return timeText(p.t, data.resolution); } }];
    if (manyDevices) {
      cols.push({ head: L.device, cell: function (p) { return p.mn; }, mono: true });
    }
    cols.push({ head: L.measured, cell: function (p) { return num(p.value); }, num: true });
    if (f.converted) {
      cols.push({ head: L.converted, cell: function (p) { return num(p.converted); }, num: true });
    }
    if (!minute) {
      cols.push({ head: L.min, cell: function (p) { return num(p.min); }, num: true });
      cols.push({ head: L.max, cell: function (p) { return num(p.max); }, num: true });
    }
    cols.push({ head: L.limit, cell: function (p) { return num(p.limit); }, num: true });
    if (minute) {
      cols.push({ head: L.flag, cell: function (p) { return p.flag ? lookup(L.flags, p.flag) + " (" + p.flag + ")" : ""; } });
    } else {
      cols.push({
        head: L.validity,
        cell: function (p) {
          return p.valid ? L.valid : L.invalid + (p.reason ? ": " + lookup(L.reasons, p.reason) : "");
        }
      });
      cols.push({ head: L.exceedance, cell: function (p) { return p.exceeds ? "●" : ""; }, bad: true });
    }

    var scroll = document.createElement("div");
    scroll.className = "table-scroll";
    var t = document.createElement("table");
    t.className = "table compact";
    t.id = "series-rows";
    var head = t.createTHead().insertRow();
    cols.forEach(function (c) {
      var th = document.createElement("th");
      th.textContent = c.head;
      if (c.num) {
        th.className = "num";
      }
      head.appendChild(th);
    });
    var body = t.createTBody();
    scroll.appendChild(t);
    var pager = document.createElement("nav");
    pager.className = "pager";
    var prev = document.createElement("button");
    prev.type = "button";
    prev.textContent = "‹ " + L.prev;
    var next = document.createElement("button");
    next.type = "button";
    next.textContent = L.next + " ›";
    var where = document.createElement("span");
    pager.appendChild(prev);
    pager.appendChild(where);
    pager.appendChild(next);
    var pages = Math.max(1, Math.ceil(f.points.length / ROWS_PER_PAGE));
    var page = 1;

    function show() {
      body.textContent = "";
      f.points.slice((page - 1) * ROWS_PER_PAGE, page * ROWS_PER_PAGE).forEach(function (p) {
        var tr = body.insertRow();
        if (p.exceeds) {
          tr.className = "row-bad";
        } else if (!p.valid) {
          tr.className = "row-invalid";
        }
        cols.forEach(function (c) {
          var td = tr.insertCell();
          td.textContent = c.cell(p);
          if (c.num) {
            td.className = "num";
          } else if (c.mono) {
            td.className = "mono";
          }
        });
      });
      where.textContent = L.page + " " + page + " / " + pages + " · " + f.points.length + " " + L.rows;
      prev.disabled = page <= 1;
      next.disabled = page >= pages;
    }
    prev.addEventListener("click", function () {
      page = Math.max(1, page - 1);
      show();
    });
    next.addEventListener("click", function () {
      page = Math.min(pages, page + 1);
      show();
    });
    holder.appendChild(scroll);
    holder.appendChild(pager);
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("outlet-chart");
    if (!el) {
      return;
    }
    var L = JSON.parse(el.dataset.labels);
    fetch(el.dataset.series, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.ok) {
          return r.json();
        }
        return r.json().then(function (b) {
          throw new Error((b.error && b.error.message) || String(r.status));
        });
      })
      .then(function (data) {
        draw(el, data, L);
        var holder = document.getElementById("series-table");
        if (holder) {
          table(holder, data, L);
        }
      })
      .catch(function (e) {
        el.textContent = "";
        var p = document.createElement("p");
        p.className = "alert";
        p.textContent = L.failed + " " + e.message;
        el.appendChild(p);
      });
  });
})();
