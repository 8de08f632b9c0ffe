// Charts from JSON embedded in the page: <canvas data-chart="id-of-json-script" data-chart-type="...">
// "stacked": {labels, datasets: [{label, data}]} as stacked bars; "line": {labels, datasets} lines.
(function () {
  "use strict";
  if (!window.Chart) return;
  var palette = ["#c9d3d3", "#9bb7d4", "#e3a018", "#3f8f6b", "#0f5e5a", "#7a5fb0", "#b04a4a", "#4f7cac"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var type = canvas.dataset.chartType || "stacked";
    // Lines: the first (the average) in the house colour, thicker; the rest behind it.
    var colours = type === "line" ? ["#0f5e5a"].concat(palette.slice(1)) : palette;
    data.datasets.forEach(function (set, i) {
      set.backgroundColor = colours[i % colours.length];
      set.borderColor = colours[i % colours.length];
      if (type === "line") set.borderWidth = i === 0 ? 3 : 1.5;
    });
    var options = { responsive: true, animation: false, plugins: { legend: { position: "bottom" } } };
    // Inside a .chart-box the box sets the height, so a phone still gets a readable chart.
    if (canvas.parentElement && canvas.parentElement.classList.contains("chart-box")) options.maintainAspectRatio = false;
    if (type === "stacked") {
      options.scales = { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } };
      new window.Chart(canvas, { type: "bar", data: data, options: options });
    } else {
      options.scales = { y: { min: 0, max: 4, ticks: { stepSize: 1, callback: function (v) { return (data.levels || [])[v] || v; } } } };
      new window.Chart(canvas, { type: "line", data: data, options: options });
    }
  });
})();
