// One evaluation's results: the winner in words, the leaderboard with its intervals,
// the head-to-head win-rate matrix and table, and the evaluation's position bias.
import { apiData as api, el, notice } from "./api.js";
import { forest } from "./charts.js";
import { SWEEP, interval, natural, pct, points, ratingsChart, winRateChart } from "./evaluation-charts.js";

const root = document.getElementById("results");
const pid = encodeURIComponent(root.dataset.project);
const verdict = document.getElementById("verdict");
const set = (id, text) => { document.getElementById(id).textContent = text; };
let timer;

function tiles(summary, out) {
  set("t-judged", String(out.comparisons));
  set("t-judged-sub", `${summary.items} items to judge`);
  const job = summary.job;
  if (!job) {
    set("t-sampling", "—");
  } else if (job.status === "succeeded") {
    set("t-sampling", "done");
    set("t-sampling-sub", `${summary.items} prompts`);
  } else {
    set("t-sampling", job.total ? `${job.done} of ${job.total}` : job.status);
    set("t-sampling-sub", `job ${job.status}`);
  }
  const bias = out.position_bias;
  set("t-position", bias.value === null ? "–" : pct(bias.value));
  set("t-position-sub", bias.value === null ? "no decided verdicts yet" : `95%: ${pct(bias.low)}–${pct(bias.high)} of ${bias.n}`);
  // An interval that excludes 50%: labelers favour a position. The shuffle keeps it from
  // favouring a model, but it adds noise, so it is worth a word with them.
  const leaning = bias.low !== null && (bias.low > 0.5 || bias.high < 0.5);
  const note = document.getElementById("t-position-note");
  note.hidden = !leaning;
  note.textContent = leaning ? `Labelers favour the reply shown ${bias.low > 0.5 ? "first" : "second"}.` : "";
}

function tables(out) {
  document.querySelector("#board-table tbody").replaceChildren(...out.leaderboard.ratings.map((r) => el("tr", {},
    el("td", { class: "num" }, String(r.rank)),
    el("td", { class: "model" }, r.model, r.model === out.leaderboard.reference ? el("span", { class: "small muted" }, " (reference)") : null),
    el("td", { class: "num" }, points(r.rating)),
    el("td", { class: "num" }, r.model === out.leaderboard.reference ? "fixed"
      : r.sweep ? `none: ${SWEEP[r.sweep]}` : `${points(r.low)}–${points(r.high)}`),
    el("td", { class: "num" }, String(r.comparisons)),
  )));
  document.querySelector("#pairs-table tbody").replaceChildren(...out.pairs.map((p) => el("tr", {},
    el("td", {}, p.model_a), el("td", {}, p.model_b),
    el("td", { class: "num" }, String(p.a_wins)), el("td", { class: "num" }, String(p.b_wins)),
    el("td", { class: "num" }, String(p.ties)), el("td", { class: "num" }, String(p.both_bad)),
    el("td", { class: "num" }, interval(p.win_rate, pct)),
  )));
}

async function load() {
  const [summary, out] = await Promise.all([api("GET", `/evaluations/${pid}`), api("GET", `/evaluations/${pid}/results`)]);
  notice(verdict, out.verdict.kind === "winner" ? "ok" : out.verdict.kind === "no_data" ? "info" : "warn", out.verdict.text);
  tiles(summary, out);
  const ref = out.leaderboard.reference;
  set("r-ref", ref ? `${ref} is fixed at 1000; each interval is that of the difference to it.` : "");
  document.getElementById("chart-board").replaceChildren(ratingsChart(out.leaderboard, "Ratings with 95% intervals"));
  document.getElementById("chart-heat").replaceChildren(winRateChart(out, "Win rate of the row model over the column model"));
  const bias = out.position_bias;
  document.getElementById("chart-position").replaceChildren(natural(forest(
    bias.value === null ? [] : [{ name: "shown first wins", ...bias }], "Share won by the reply shown first", { reference: 0.5 })));
  tables(out);
  set("method", out.method);
  // While the replies are being sampled, follow the job (and the first verdicts).
  clearTimeout(timer);
  if (summary.job && ["queued", "running"].includes(summary.job.status)) timer = setTimeout(refresh, 5000);
}

function refresh() {
  load().catch((err) => notice(verdict, "error", err.message));
}

document.getElementById("refresh").addEventListener("click", refresh);
refresh();
