"""Checks run inside the page (Playwright `page.evaluate`): each returns a list of offenders, described
well enough to find them (tag, id or classes, text), so an empty list is a pass."""

# A short description of an element, for failure messages.
_DESCRIBE = """
function describe(el) {
  let name = el.tagName.toLowerCase();
  if (el.id) { name += '#' + el.id; }
  else if (el.classList.length) { name += '.' + [...el.classList].join('.'); }
  if (el.name) { name += '[name=' + el.name + ']'; }
  const text = (el.innerText || el.value || '').trim().replace(/\\s+/g, ' ').slice(0, 50);
  return text ? name + ' "' + text + '"' : name;
}
function visible(el) {
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  // .visually-hidden text is a 1px clip: meant for screen readers, not measured for contrast.
  return box.width > 1 && box.height > 1 && style.visibility !== 'hidden' && style.display !== 'none';
}
"""

# Every visible form control has an accessible name: a <label> (for= or wrapping), aria-label or
# aria-labelledby naming elements with text. Buttons are named by their text or value.
UNLABELLED_CONTROLS = (
    "() => {"
    + _DESCRIBE
    + """
  const buttons = ['submit', 'button', 'reset', 'image', 'hidden'];
  return [...document.querySelectorAll('input, select, textarea')]
    .filter(el => !buttons.includes(el.type) && visible(el))
    .filter(el => {
      if (el.labels && [...el.labels].some(label => label.textContent.trim())) { return false; }
      if ((el.getAttribute('aria-label') || '').trim()) { return false; }
      const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
      const named = ids.map(id => document.getElementById(id)).filter(Boolean);
      return !(named.length === ids.length && named.some(target => target.textContent.trim()));
    })
    .map(describe);
}"""
)

# WCAG 2.x contrast of each visible piece of text (an element with its own text, links included)
# against the background it is drawn on (the ancestors' background colours composited): at least
# 4.5:1, or 3:1 for large text (24px, or 18.66px bold). Disabled controls are exempt (WCAG 1.4.3),
# and so is the text plotly draws inside a chart's SVG (the table beside it carries the figures).
LOW_CONTRAST_TEXT = (
    "() => {"
    + _DESCRIBE
    + """
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ink = canvas.getContext('2d', {willReadFrequently: true});
  // Any CSS colour (rgb(), color(srgb …), oklch() …) to sRGB bytes and alpha, through a 1px canvas.
  function rgba(css) {
    ink.clearRect(0, 0, 1, 1);
    ink.fillStyle = 'rgba(0, 0, 0, 0)';
    ink.fillStyle = css;
    ink.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = ink.getImageData(0, 0, 1, 1).data;
    return {r, g, b, a: a / 255};
  }
  function over(top, bottom) {
    const mix = (t, u) => t * top.a + u * (1 - top.a);
    return {r: mix(top.r, bottom.r), g: mix(top.g, bottom.g), b: mix(top.b, bottom.b), a: 1};
  }
  function background(el) {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const colour = rgba(getComputedStyle(node).backgroundColor);
      if (colour.a > 0) { layers.push(colour); if (colour.a >= 1) { break; } }
    }
    return layers.reverse().reduce((below, layer) => over(layer, below), {r: 255, g: 255, b: 255, a: 1});
  }
  function luminance(c) {
    const channel = v => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  }
  const offenders = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('svg, .chart, script, style, noscript, [aria-hidden="true"]') || el.disabled) { continue; }
    const ownText = [...el.childNodes].some(node => node.nodeType === Node.TEXT_NODE && node.textContent.trim());
    if (!ownText || !visible(el)) { continue; }
    const style = getComputedStyle(el);
    const bg = background(el);
    const fg = over(rgba(style.color), bg);
    const [light, dark] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
    const needed = large ? 3 : 4.5;
    if (ratio < needed) {
      offenders.push(describe(el) + ': ' + ratio.toFixed(2) + ':1 (needs ' + needed + ':1), ' + style.color
        + ' on rgb(' + [bg.r, bg.g, bg.b].map(Math.round).join(', ') + ')');
    }
  }
  return offenders;
}"""
)

# Where keyboard focus is: in the main navigation, the skip link, or the first chart's table toggle.
FOCUS = """() => {
  const el = document.activeElement;
  const toggle = document.querySelector('.chart-table > summary');
  return {
    skipLink: !!(el && el.classList.contains('skip-link')),
    mainNavigation: !!(el && el.closest('nav[aria-label="Main"]')),
    firstChartTable: !!(el && toggle && el === toggle),
    tag: el ? el.tagName.toLowerCase() : '',
  };
}"""

# Every chart on the page was drawn by plotly (charts.js sets data-rendered once Plotly.newPlot resolves).
ALL_CHARTS_RENDERED = """() => {
  const charts = [...document.querySelectorAll('.chart[data-chart]')];
  const drawn = chart => chart.dataset.rendered === 'true' && !!chart.querySelector('svg.main-svg');
  return charts.length > 0 && charts.every(drawn);
}"""

# The tallest bar of the first chart drawn with bars: its centre on the screen and its drill-down URL
# (the point's customdata; charts.js follows it on click). Each bar's <g class="point"> carries
# plotly's calculated point (`__data__`, with `i`, its index in the trace); bar traces are drawn in
# the order of the figure's bar traces.
TALLEST_BAR = """() => {
  for (const chart of document.querySelectorAll('.chart[data-chart]')) {
    const figure = JSON.parse(document.getElementById(chart.dataset.chart).textContent);
    const barTraces = figure.data.filter(trace => trace.type === 'bar');
    const drawn = [...chart.querySelectorAll('g.trace.bars')];
    for (const [order, trace] of drawn.entries()) {
      const bars = [...trace.querySelectorAll('g.point')].filter(point => point.querySelector('path'));
      if (!bars.length) { continue; }
      const boxes = bars.map(point => point.querySelector('path').getBoundingClientRect());
      const tallest = boxes.indexOf(boxes.reduce((a, b) => (b.height > a.height ? b : a)));
      const box = boxes[tallest];
      let url = barTraces[order].customdata[bars[tallest].__data__.i];
      if (Array.isArray(url)) { url = url[0]; }
      return {x: box.x + box.width / 2, y: box.y + box.height / 2, url};
    }
  }
  return null;
}"""
