// A small stacked-bar chart drawn as SVG: no library, no network (the site may have none).
// Built from DOM nodes: labels and series names (door names come from kiosks) are text
// nodes, never markup, and colours are set as properties, never as style attributes.
const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text != null) node.textContent = String(text);
  return node;
}
const CHART_COLOUR = /^#[0-9a-f]{3,8}$/i;
function barChart(target, labels, series, opts = {}) {
  // series: [{name, colour, values: [..same length as labels]}]
  const W = 760, H = opts.height || 220, L = 40, B = 28, T = 10, R = 8;
  const totals = labels.map((_, i) => series.reduce((s, x) => s + (x.values[i] || 0), 0));
  const max = Math.max(1, ...totals);
  const step = niceStep(max);
  const top = Math.ceil(max / step) * step;
  const bw = (W - L - R) / Math.max(1, labels.length);
  const y = v => T + (H - T - B) * (1 - v / top);
  const colour = s => (CHART_COLOUR.test(s.colour) ? s.colour : "#8a8f98");
  const chart = svg("svg", {viewBox: `0 0 ${W} ${H}`, role: "img"});
  for (let v = 0; v <= top; v += step) {
    chart.append(svg("line", {x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e5e6eb"}),
      svg("text", {x: L - 4, y: y(v) + 4, "text-anchor": "end", fill: "#86909c"}, v));
  }
  const every = Math.ceil(labels.length / 12);
  labels.forEach((label, i) => {
    let base = 0;
    for (const s of series) {
      const v = s.values[i] || 0;
      if (v > 0) {
        const bar = svg("rect", {x: L + i * bw + bw * 0.12, y: y(base + v), width: bw * 0.76,
                                 height: y(base) - y(base + v), fill: colour(s)});
        bar.append(svg("title", {}, `${label} ${s.name}: ${v}`));
        chart.append(bar);
      }
      base += v;
    }
    if (i % every === 0) {
      chart.append(svg("text", {x: L + i * bw + bw / 2, y: H - 8, "text-anchor": "middle", fill: "#4e5969"}, label));
    }
  });
  const legend = document.createElement("div");
  legend.className = "legend";
  for (const s of series) {
    const item = document.createElement("span"), swatch = document.createElement("span");
    swatch.className = "dot";
    swatch.style.background = colour(s);  // a CSSOM property: allowed under the strict CSP
    item.append(swatch, String(s.name));
    legend.append(item);
  }
  target.replaceChildren(chart, legend);
}
function niceStep(max) {
  const raw = max / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * mag) return Math.max(1, m * mag);
  return Math.max(1, 10 * mag);
}
