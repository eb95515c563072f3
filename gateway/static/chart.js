// A small stacked-bar chart drawn as SVG: no library, no network (the site may have none).
function barChart(el, labels, series, opts = {}) {
  // series: [{name, colour, values: [..same length as labels]}]
  const W = 760, H = opts.height || 220, L = 40, B = 28, T = 10, R = 8;
  const totals = labels.map((_, i) => series.reduce((s, x) => s + (x.values[i] || 0), 0));
  const max = Math.max(1, ...totals);
  const step = niceStep(max);
  const top = Math.ceil(max / step) * step;
  const bw = (W - L - R) / Math.max(1, labels.length);
  const y = v => T + (H - T - B) * (1 - v / top);
  const parts = [`<svg viewBox="0 0 ${W} ${H}" role="img" xmlns="http://www.w3.org/2000/svg">`];
  for (let v = 0; v <= top; v += step) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e6eb"/>`,
      `<text x="${L - 4}" y="${y(v) + 4}" text-anchor="end" fill="#86909c">${v}</text>`);
  }
  labels.forEach((label, i) => {
    let base = 0;
    for (const s of series) {
      const v = s.values[i] || 0;
      if (v > 0) {
        parts.push(`<rect x="${L + i * bw + bw * 0.12}" y="${y(base + v)}" width="${bw * 0.76}" ` +
          `height="${y(base) - y(base + v)}" fill="${s.colour}"><title>${label} ${s.name}: ${v}</title></rect>`);
      }
      base += v;
    }
    const every = Math.ceil(labels.length / 12);
    if (i % every === 0) parts.push(`<text x="${L + i * bw + bw / 2}" y="${H - 8}" text-anchor="middle" fill="#4e5969">${label}</text>`);
  });
  parts.push("</svg>");
  const legend = series.map(s => `<span><span class="dot" style="background:${s.colour}"></span>${s.name}</span>`).join("");
  el.innerHTML = parts.join("") + `<div class="legend">${legend}</div>`;
}
function niceStep(max) {
  const raw = max / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * mag) return Math.max(1, m * mag);
  return Math.max(1, 10 * mag);
}
