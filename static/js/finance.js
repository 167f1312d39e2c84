// Finance pages: live slider read-outs, the print button and the cumulative-cost chart.
// Every figure is computed on the server; this file only displays. Pages work without it.
(function () {
  "use strict";

  // <output for="id" data-suffix="%"> follows its range input while it moves (the figures follow via htmx).
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=range]")) return;
    document.querySelectorAll('output[for="' + input.id + '"]').forEach(function (out) {
      out.textContent = input.value + (out.getAttribute("data-suffix") || "");
    });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print]");
    if (button) window.print();
  });

  var COLOURS = ["#c8102e", "#003478", "#1e7d32", "#b26a00", "#6b3fa0", "#00838f", "#5f6368", "#ad1457"];

  function yuan(value) {
    return "¥" + Number(value).toLocaleString(undefined, { maximumFractionDigits: 0 });
  }

  function drawChart() {
    var canvas = document.getElementById("cost-chart");
    var source = document.getElementById("cost-chart-data");
    if (!canvas || !source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var datasets = data.datasets.map(function (set, i) {
      var colour = COLOURS[i % COLOURS.length];
      return {
        label: set.label,
        // Money arrives as decimal strings; Number() here is for drawing only, never for a figure shown as text.
        data: set.data.map(Number),
        borderColor: colour,
        backgroundColor: colour,
        borderWidth: 2,
        pointRadius: 0,
        stepped: "before",
        borderDash: i % 2 ? [6, 3] : []
      };
    });
    new window.Chart(canvas, {
      type: "line",
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { title: { display: true, text: data.x_title } },
          y: { title: { display: true, text: data.y_title }, ticks: { callback: yuan } }
        },
        plugins: {
          legend: { position: "bottom", labels: { usePointStyle: true, pointStyle: "line" } },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + yuan(ctx.parsed.y); } } }
        }
      }
    });
    canvas.setAttribute("data-ready", "true");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawChart);
  else drawChart();
})();
