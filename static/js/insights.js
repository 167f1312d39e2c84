// Insights dashboard charts. The figures come from the JSON block the server rendered (the same numbers are in
// the tables next to each chart); this file only draws. No inline script: the page's CSP forbids it.
(function () {
  "use strict";

  var RED = "#c8102e", BLUE = "#003478", GREEN = "#1e7d32", AMBER = "#b26a00";
  var PALETTE = [RED, BLUE, GREEN, AMBER, "#6b3fa0", "#00838f"];

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) new window.Chart(canvas, config);
  }

  function base(extra) {
    var options = { responsive: true, maintainAspectRatio: false, animation: false,
                    plugins: { legend: { position: "bottom" } } };
    for (var key in extra) options[key] = extra[key];
    return options;
  }

  function start() {
    var source = document.getElementById("insights-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);

    draw("chart-funnel", {
      type: "bar",
      data: { labels: data.funnel.labels, datasets: [{ data: data.funnel.values, backgroundColor: RED }] },
      options: base({ indexAxis: "y", plugins: { legend: { display: false } },
                      scales: { x: { type: "logarithmic", ticks: { callback: function (v) {
                        var s = String(v); return /^(1|2|5)0*$/.test(s) ? v.toLocaleString() : ""; } } } } })
    });

    draw("chart-daily", {
      type: "line",
      data: { labels: data.daily.labels, datasets: data.daily.series.map(function (s, i) {
        return { label: s.label, data: s.values, borderColor: PALETTE[i], backgroundColor: PALETTE[i],
                 pointRadius: 0, borderWidth: 2, tension: 0.25, yAxisID: i === 0 ? "views" : "steps" };
      }) },
      options: base({ interaction: { mode: "index", intersect: false },
                      scales: { views: { position: "left", beginAtZero: true },
                                steps: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } } } })
    });

    draw("chart-cities", {
      type: "bar",
      data: { labels: data.cities.labels, datasets: data.cities.series.map(function (s, i) {
        return { label: s.label, data: s.values, backgroundColor: [BLUE, RED][i] };
      }) },
      options: base({ scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } })
    });

    draw("chart-mix", {
      type: "doughnut",
      data: { labels: data.quote_mix.labels, datasets: [{ data: data.quote_mix.values, backgroundColor: PALETTE }] },
      options: base({})
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
