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
