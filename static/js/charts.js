// Small SVG charts built from JSON; colours come from classes in app.css
// (the CSP forbids inline styles).
const NS = "http://www.w3.org/2000/svg";

export function svgEl(tag, attrs = {}, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

function chart(width, height, label) {
  return svgEl("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": label, preserveAspectRatio: "xMinYMin meet" });
}

function legend(entries) {
  const box = document.createElement("div");
  box.className = "legend";
  for (const [cls, text] of entries) {
    const item = document.createElement("span");
    const sw = document.createElement("i");
    sw.className = cls;
    item.append(sw, text);
    box.append(item);
  }
  return box;
}

function niceMax(v) {
  if (v <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return v;
}

export function stackedBar(parts, label) {
  const W = 800; const H = 64;
  const total = parts.reduce((s, p) => s + p.value, 0);
  const svg = chart(W, H, label);
  let x = 0;
  for (const p of parts) {
    const w = total ? (p.value / total) * W : 0;
    if (w > 0) {
      const r = svgEl("rect", { x, y: 8, width: w, height: 40, class: p.cls });
      r.append(svgEl("title", {}, `${p.name}: ${p.value}`));
      svg.append(r);
      if (w > 60) svg.append(svgEl("text", { x: x + 8, y: 33, class: "on-bar" }, `${p.value}`));
    }
    x += w;
  }
  if (!total) svg.append(svgEl("text", { x: 8, y: 33 }, "No items yet"));
  const wrap = document.createElement("div");
  wrap.append(svg, legend(parts.map((p) => [p.cls, `${p.name}: ${p.value}${total ? ` (${Math.round((100 * p.value) / total)}%)` : ""}`])));
  return wrap;
}

export function perDayChart(rows, label) {
  const dates = [...new Set(rows.map((r) => r.date))].sort();
  const people = [...new Set(rows.map((r) => r.labeler))].sort();
  const wrap = document.createElement("div");
  if (!dates.length) { wrap.textContent = "No judgements yet."; return wrap; }
  const colour = (name) => `c${people.indexOf(name) % 8}`;
  const totals = dates.map((d) => rows.filter((r) => r.date === d).reduce((s, r) => s + r.count, 0));
  const max = niceMax(Math.max(...totals));
  const W = 800; const H = 260; const L = 40; const B = 30; const T = 10;
  const plotH = H - B - T;
  const slot = (W - L - 10) / dates.length;
  const barW = Math.min(48, slot * 0.7);
  const svg = chart(W, H, label);
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    const y = T + plotH - (v / max) * plotH;
    svg.append(svgEl("line", { x1: L, x2: W - 10, y1: y, y2: y, class: "grid" }));
    svg.append(svgEl("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, String(Math.round(v))));
  }
  svg.append(svgEl("line", { x1: L, x2: W - 10, y1: T + plotH, y2: T + plotH, class: "axis" }));
  const every = Math.ceil(dates.length / 14);
  dates.forEach((d, i) => {
    const x = L + i * slot + (slot - barW) / 2;
    let y = T + plotH;
    for (const r of rows.filter((row) => row.date === d)) {
      const h = (r.count / max) * plotH;
      y -= h;
      const rect = svgEl("rect", { x, y, width: barW, height: h, class: colour(r.labeler) });
      rect.append(svgEl("title", {}, `${d} · ${r.labeler}: ${r.count}`));
      svg.append(rect);
    }
    if (i % every === 0) svg.append(svgEl("text", { x: x + barW / 2, y: H - 10, "text-anchor": "middle" }, d.slice(5)));
  });
  wrap.append(svg, legend(people.map((p) => [colour(p), p])));
  return wrap;
}

export function hBars(rows, label, unit) {
  const wrap = document.createElement("div");
  const data = rows.filter((r) => r.value !== null && r.value !== undefined);
  if (!data.length) { wrap.textContent = "No timings yet."; return wrap; }
  const W = 800; const row = 30; const L = 170; const H = data.length * row + 10;
  const max = niceMax(Math.max(...data.map((r) => r.value)));
  const svg = chart(W, H, label);
  data.forEach((r, i) => {
    const y = 5 + i * row;
    const w = (r.value / max) * (W - L - 80);
    svg.append(svgEl("text", { x: L - 8, y: y + 18, "text-anchor": "end" }, r.name.length > 22 ? `${r.name.slice(0, 21)}…` : r.name));
    const rect = svgEl("rect", { x: L, y: y + 4, width: Math.max(w, 1), height: row - 10, class: `c${i % 8}` });
    rect.append(svgEl("title", {}, `${r.name}: ${r.value.toFixed(1)} ${unit}`));
    svg.append(rect, svgEl("text", { x: L + w + 6, y: y + 18 }, `${r.value.toFixed(1)} ${unit}`));
  });
  wrap.append(svg);
  return wrap;
}

// --- quality charts: estimates with intervals --------------------------------------------

const pct = (v) => `${Math.round(v * 1000) / 10}%`;

function interval(e, fmt) {
  if (!e || e.value === null || e.value === undefined) return "–";
  if (e.low === null || e.low === undefined) return fmt(e.value);
  return `${fmt(e.value)} (${fmt(e.low)}–${fmt(e.high)})`;
}
export { interval, pct };

// A line of daily values with their interval drawn as a band behind it.
export function bandLine(points, label, { min = 0, max = 1, reference = null, fmt = pct } = {}) {
  const wrap = document.createElement("div");
  const data = points.filter((p) => p.value !== null && p.value !== undefined);
  if (!data.length) { wrap.textContent = "Nothing to compare yet: items need two labelers."; return wrap; }
  const W = 800; const H = 240; const L = 48; const B = 30; const T = 10; const R = 28;
  const plotW = W - L - R; const plotH = H - B - T;
  const x = (i) => L + (data.length === 1 ? plotW / 2 : (i * plotW) / (data.length - 1));
  const y = (v) => T + plotH - ((Math.min(max, Math.max(min, v)) - min) / (max - min)) * plotH;
  const svg = chart(W, H, label);
  for (let i = 0; i <= 4; i++) {
    const v = min + ((max - min) * i) / 4;
    svg.append(svgEl("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(svgEl("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmt(v)));
  }
  if (reference !== null) svg.append(svgEl("line", { x1: L, x2: W - R, y1: y(reference), y2: y(reference), class: "reference" }));
  const upper = data.map((p, i) => `${x(i)},${y(p.high ?? p.value)}`);
  const lower = data.map((p, i) => `${x(i)},${y(p.low ?? p.value)}`).reverse();
  svg.append(svgEl("polygon", { points: [...upper, ...lower].join(" "), class: "band" }));
  svg.append(svgEl("polyline", { points: data.map((p, i) => `${x(i)},${y(p.value)}`).join(" "), class: "line" }));
  const every = Math.ceil(data.length / 10);
  data.forEach((p, i) => {
    const dot = svgEl("circle", { cx: x(i), cy: y(p.value), r: 3.5, class: "dot" });
    dot.append(svgEl("title", {}, `${p.label}: ${interval(p, fmt)} over ${p.n} comparisons`));
    svg.append(dot);
    if (i % every === 0) svg.append(svgEl("text", { x: x(i), y: H - 10, "text-anchor": "middle" }, p.label.slice(5)));
  });
  wrap.append(svg, legend([["line-key", "daily value"], ["band-key", "95% interval"]]));
  return wrap;
}

// One row per labeler: the estimate as a dot, its interval as a whisker, an optional
// reference line (50% for position bias); flagged rows are drawn in the warning colour.
// `nameChars` widens the name column for longer names (model versions).
export function forest(rows, label, { min = 0, max = 1, reference = null, fmt = pct, nameChars = 16 } = {}) {
  const wrap = document.createElement("div");
  const data = rows.filter((r) => r.value !== null && r.value !== undefined);
  if (!data.length) { wrap.textContent = "Not measured yet."; return wrap; }
  const L = nameChars > 16 ? nameChars * 7 + 12 : 120; const W = 440 + L; const row = 26; const R = 140; const H = data.length * row + 30;
  const x = (v) => L + ((Math.min(max, Math.max(min, v)) - min) / (max - min)) * (W - L - R);
  const svg = chart(W, H, label);
  for (let i = 0; i <= 4; i++) {
    const v = min + ((max - min) * i) / 4;
    svg.append(svgEl("line", { x1: x(v), x2: x(v), y1: 4, y2: H - 22, class: "grid" }));
    svg.append(svgEl("text", { x: x(v), y: H - 6, "text-anchor": "middle" }, fmt(v)));
  }
  if (reference !== null) svg.append(svgEl("line", { x1: x(reference), x2: x(reference), y1: 4, y2: H - 22, class: "reference" }));
  data.forEach((r, i) => {
    const cy = 4 + i * row + row / 2;
    const name = r.name.length > nameChars ? `${r.name.slice(0, nameChars - 1)}…` : r.name;
    svg.append(svgEl("text", { x: L - 8, y: cy + 4, "text-anchor": "end" }, name));
    const cls = r.flagged ? "flagged" : "";
    if (r.low !== null && r.low !== undefined) {
      svg.append(svgEl("line", { x1: x(r.low), x2: x(r.high), y1: cy, y2: cy, class: `whisker ${cls}` }));
    }
    const dot = svgEl("circle", { cx: x(r.value), cy, r: 5, class: `dot ${cls}` });
    dot.append(svgEl("title", {}, `${r.name}: ${interval(r, fmt)}, n = ${r.n}`));
    svg.append(dot, svgEl("text", { x: W - R + 8, y: cy + 4 }, interval(r, fmt)));
  });
  wrap.append(svg);
  return wrap;
}

// A square matrix coloured by value (ten classes in app.css), the figure on hover.
// Default: labeler × labeler agreement (symmetric). With `directed`, the cell in row a,
// column b is `${a.id}|${b.id}` only (e.g. the row model's win rate over the column's).
export function heatMap(names, cells, label, fmt = pct, {
  pick = (c) => c.agreement,
  directed = false,
  empty = "No two labelers share an item yet.",
  keys = [["h1", "low agreement"], ["h5", "middling"], ["h9", "high agreement"], ["hnone", "no shared items"]],
  describe = (a, b, e) => `${a.name} & ${b.name}: ${interval(e, fmt)} over ${e.n} shared items`,
  none = (a, b) => `${a.name} & ${b.name}: no shared items`,
} = {}) {
  const wrap = document.createElement("div");
  if (names.length < 2 || !cells.length) { wrap.textContent = empty; return wrap; }
  const size = Math.max(18, Math.min(44, Math.floor(560 / names.length)));
  const L = 170; const T = 130; const W = L + names.length * size + 20; const H = T + names.length * size + 10;
  const svg = chart(W, H, label);
  svg.classList.add("heat-chart");
  const at = new Map(cells.map((c) => [`${c.a}|${c.b}`, c]));
  names.forEach((n, i) => {
    const short = n.name.length > 22 ? `${n.name.slice(0, 21)}…` : n.name;
    svg.append(svgEl("text", { x: L - 8, y: T + i * size + size / 2 + 4, "text-anchor": "end" }, short));
    svg.append(svgEl("text", {
      x: L + i * size + size / 2, y: T - 8, transform: `rotate(-50 ${L + i * size + size / 2} ${T - 8})`,
    }, short));
  });
  names.forEach((a, i) => names.forEach((b, j) => {
    const cell = i === j ? null : at.get(`${a.id}|${b.id}`) || (directed ? null : at.get(`${b.id}|${a.id}`));
    const estimate = cell ? pick(cell) : null;
    const value = estimate ? estimate.value : null;
    const bucket = value === null || value === undefined ? "none" : Math.min(9, Math.floor(value * 10));
    const rect = svgEl("rect", { x: L + j * size, y: T + i * size, width: size - 2, height: size - 2, class: `heat h${bucket}` });
    rect.append(svgEl("title", {}, i === j ? a.name : cell ? describe(a, b, estimate) : none(a, b)));
    svg.append(rect);
    if (cell && value !== null && size >= 34) {
      svg.append(svgEl("text", { x: L + j * size + size / 2 - 1, y: T + i * size + size / 2 + 4, "text-anchor": "middle", class: bucket >= 7 || bucket <= 1 ? "on-heat" : "" }, `${Math.round(value * 100)}`));
    }
  }));
  wrap.append(svg, legend(keys));
  return wrap;
}

// --- training curves: a metric over steps, raw and smoothed ------------------------------

// Round tick values (1, 2, 2.5, 5 × 10^k) covering [lo, hi]; one tick when lo === hi, so a
// single value is labelled as itself rather than given an invented range.
export function niceTicks(lo, hi, count = 4, integer = false) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw);
  if (integer) step = Math.max(1, Math.ceil(step));  // steps are whole updates
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

// Short tick labels that do not run together: 3 significant digits, exponents for tiny or
// huge values (learning rates).
export function fmtTick(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(1).replace("e+", "e");
  return String(+v.toPrecision(3));
}

// Exponential moving average with TensorBoard's debiasing, so the first points are not
// pulled towards zero.
export function smooth(values, weight = 0.6) {
  let last = 0;
  return values.map((v, i) => {
    last = last * weight + (1 - weight) * v;
    return last / (1 - weight ** (i + 1));
  });
}

// One curve: points [[step, value], …] on labelled axes; the smoothed line over the raw one
// when there are enough points for smoothing to mean something.
export function lineChart(points, { title, xLabel = "step", yLabel = "", smoothing = 0.6 } = {}) {
  const wrap = document.createElement("div");
  if (!points.length) { wrap.textContent = "No points yet."; return wrap; }
  const W = 480; const H = 230; const L = 58; const R = 14; const T = 12; const B = 42;
  const xs = points.map((p) => p[0]); const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const xt = niceTicks(x0, x1, 4, true); const yt = niceTicks(y0, y1, 4);
  // Stretch the domain to the outer ticks; a flat or single value sits mid-height.
  const [dx0, dx1] = x1 > x0 ? [Math.min(x0, xt[0]), Math.max(x1, xt[xt.length - 1])] : [x0 - 1, x0 + 1];
  const [dy0, dy1] = y1 > y0 ? [Math.min(y0, yt[0]), Math.max(y1, yt[yt.length - 1])] : [y0 - 1, y0 + 1];
  const sx = (x) => L + ((x - dx0) / (dx1 - dx0)) * (W - L - R);
  const sy = (y) => T + (1 - (y - dy0) / (dy1 - dy0)) * (H - T - B);
  const last = points[points.length - 1];
  const svg = chart(W, H, `${title || yLabel}: ${points.length} points, last ${fmtTick(last[1])} at ${xLabel} ${last[0]}`);
  svg.classList.add("line-chart");
  for (const v of yt) {
    svg.append(svgEl("line", { x1: L, x2: W - R, y1: sy(v), y2: sy(v), class: "grid" }));
    svg.append(svgEl("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end" }, fmtTick(v)));
  }
  for (const v of xt) {
    if (x1 === x0 && v !== x0) continue;
    svg.append(svgEl("line", { x1: sx(v), x2: sx(v), y1: H - B, y2: H - B + 4, class: "axis" }));
    svg.append(svgEl("text", { x: sx(v), y: H - B + 16, "text-anchor": "middle" }, fmtTick(v)));
  }
  svg.append(svgEl("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  svg.append(svgEl("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
  svg.append(svgEl("text", { x: L + (W - L - R) / 2, y: H - 6, "text-anchor": "middle", class: "axis-label" }, xLabel));
  svg.append(svgEl("text", { x: 12, y: T + (H - T - B) / 2, "text-anchor": "middle", class: "axis-label",
    transform: `rotate(-90 12 ${T + (H - T - B) / 2})` }, yLabel));
  const line = (vals, cls) => svgEl("polyline", {
    points: points.map((p, i) => `${sx(p[0]).toFixed(1)},${sy(vals[i]).toFixed(1)}`).join(" "), class: cls });
  const smoothed = points.length >= 5 && smoothing > 0;
  if (points.length === 1) {
    const dot = svgEl("circle", { cx: sx(last[0]), cy: sy(last[1]), r: 4, class: "dot" });
    dot.append(svgEl("title", {}, `${xLabel} ${last[0]}: ${last[1]}`));
    svg.append(dot);
  } else {
    svg.append(line(ys, smoothed ? "raw" : "line"));
    if (smoothed) svg.append(line(smooth(ys, smoothing), "line"));
  }
  wrap.append(svg);
  if (smoothed) wrap.append(legend([["raw-key", "raw"], ["line-key", `smoothed (EMA ${smoothing})`]]));
  return wrap;
}
