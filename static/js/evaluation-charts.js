// The evaluation figures drawn with charts.js: the leaderboard as a forest of ratings
// with their intervals, and the head-to-head win rates as a directed heat map. Both are
// drawn at their natural size (never enlarged), so two models do not fill the page.
import { forest, heatMap, interval, pct } from "./charts.js";

const points = (v) => `${Math.round(v)}`;
export const SWEEP = { won_all: "won every comparison", lost_all: "lost every comparison" };

export function natural(wrap) {
  const svg = wrap.querySelector("svg");
  if (svg) {
    svg.setAttribute("width", svg.viewBox.baseVal.width);
    svg.classList.add("natural");
  }
  return wrap;
}

export function ratingsChart(board, label) {
  // The reference's interval is a point by construction, and so is a sweep's: no whiskers.
  const point = (r) => r.sweep || r.model === board.reference;
  const rows = board.ratings.map((r) => ({
    name: r.model, value: r.rating, low: point(r) ? null : r.low, high: point(r) ? null : r.high, n: r.comparisons,
  }));
  if (!rows.length) {
    const empty = document.createElement("p");
    empty.className = "muted";
    empty.textContent = "No verdicts yet: the leaderboard appears once labelers have judged.";
    return empty;
  }
  // A range in steps of 50 that holds every interval and the reference's 1000.
  const lo = Math.min(1000, ...board.ratings.map((r) => r.low));
  const hi = Math.max(1000, ...board.ratings.map((r) => r.high));
  const pad = Math.max(25, (hi - lo) * 0.08);
  const min = Math.floor((lo - pad) / 50) * 50;
  const max = Math.ceil((hi + pad) / 50) * 50;
  const nameChars = Math.min(32, Math.max(16, ...rows.map((r) => r.name.length)));
  const wrap = natural(forest(rows, label, { min, max, reference: 1000, fmt: points, nameChars }));
  const swept = board.ratings.filter((r) => r.sweep);
  if (swept.length) {
    const note = document.createElement("p");
    note.className = "small muted";
    note.textContent = `${swept.map((r) => `${r.model} ${SWEEP[r.sweep]}`).join("; ")}: `
      + "resampling cannot give such a rating an interval, and it rests on the prior (one virtual tie per pair). "
      + "The win rate's interval says how sure the result is.";
    wrap.append(note);
  }
  // Groups never compared with this one: each on its own scale, so drawn apart.
  for (const other of board.others) {
    const title = document.createElement("h3");
    title.textContent = `Never compared with the models above: ${other.ratings.map((r) => r.model).join(", ")}`;
    const note = document.createElement("p");
    note.className = "small muted";
    note.textContent = `Rated against ${other.reference}, fixed at 1000; these ratings cannot be set beside the ones above.`;
    wrap.append(title, note, ratingsChart(other, `${label}: ${other.reference}'s group`));
  }
  return wrap;
}

export function winRateChart(out, label) {
  const names = out.leaderboard.ratings.map((r) => ({ id: r.model, name: r.model }));
  for (const p of out.pairs) {
    for (const m of [p.model_a, p.model_b]) if (!names.some((n) => n.id === m)) names.push({ id: m, name: m });
  }
  const flip = (e) => ({ value: e.value === null ? null : 1 - e.value, low: e.high === null ? null : 1 - e.high, high: e.low === null ? null : 1 - e.low, n: e.n });
  const cells = out.pairs.flatMap((p) => [
    { a: p.model_a, b: p.model_b, rate: p.win_rate },
    { a: p.model_b, b: p.model_a, rate: flip(p.win_rate) },
  ]);
  return natural(heatMap(names, cells, label, pct, {
    pick: (c) => c.rate,
    directed: true,
    empty: "No two models compared yet.",
    keys: [["h1", "row model loses"], ["h5", "even"], ["h9", "row model wins"], ["hnone", "not compared"]],
    describe: (a, b, e) => `${a.name} beats ${b.name}: ${interval(e, pct)} of ${e.n} comparisons`,
    none: (a, b) => `${a.name} and ${b.name} were not compared`,
  }));
}

export { interval, pct, points };
