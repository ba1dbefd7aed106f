// Draws every chart of the page with our own copy of plotly.js (static/vendor/plotly.min.js),
// and follows a point's drill-down URL (its customdata) when it is clicked.
(function () {
  "use strict";
  function draw(element) {
    var source = document.getElementById(element.dataset.chart);
    if (!source || !window.Plotly) { return; }
    var figure = JSON.parse(source.textContent);
    window.Plotly.newPlot(element, figure.data, figure.layout, figure.config).then(function () {
      element.dataset.rendered = "true";
    });
    element.on("plotly_click", function (event) {
      var point = event.points && event.points[0];
      var target = point && point.customdata;
      if (Array.isArray(target)) { target = target[0]; }
      if (typeof target === "string" && target.charAt(0) === "/") { window.location.assign(target); }
    });
  }
  function drawAll() {
    document.querySelectorAll(".chart[data-chart]").forEach(draw);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
