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

    var axes = data.axes || {};
    function titled(text) { return { display: !!text, text: text || "", font: { weight: "bold" } }; }

    // The funnel on a linear scale (a log scale made 3,949 -> 26 look like a gentle slope): each bar is labelled
    // with its count and its conversion from the step before.
    var funnelLabels = data.funnel.labels.map(function (label, i) {
      var count = data.funnel.values[i].toLocaleString();
      var rate = data.funnel.conversion ? data.funnel.conversion[i] : null;
      return rate === null || rate === undefined ? label + " · " + count
        : label + " · " + count + " (" + rate.toFixed(1) + "% " + (axes.of_previous || "") + ")";
    });
    draw("chart-funnel", {
      type: "bar",
      data: { labels: funnelLabels, datasets: [{ data: data.funnel.values, backgroundColor: RED }] },
      options: base({ indexAxis: "y", plugins: { legend: { display: false } },
                      scales: { x: { beginAtZero: true, title: titled(axes.events), ticks: { precision: 0 } },
                                y: { ticks: { font: { size: 13 } } } } })
    });

    draw("chart-daily", {
      type: "line",
      data: { labels: data.daily.labels, datasets: data.daily.series.map(function (s, i) {
        return { label: s.label, data: s.values, borderColor: PALETTE[i], backgroundColor: PALETTE[i],
                 pointRadius: 0, borderWidth: 2, tension: 0.25, yAxisID: i === 0 ? "views" : "steps" };
      }) },
      options: base({ interaction: { mode: "index", intersect: false },
                      scales: { x: { title: titled(axes.day) },
                                views: { position: "left", beginAtZero: true, title: titled(axes.views) },
                                steps: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                                         title: titled(axes.steps) } } })
    });

    draw("chart-cities", {
      type: "bar",
      data: { labels: data.cities.labels, datasets: data.cities.series.map(function (s, i) {
        return { label: s.label, data: s.values, backgroundColor: [BLUE, RED][i] };
      }) },
      options: base({ scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: titled(axes.city_count) } } })
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
