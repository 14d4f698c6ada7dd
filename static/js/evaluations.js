// The evaluations list: every evaluation the user may read with its progress, and the
// Bradley–Terry leaderboard across all of them.
import { api, el, fmtDate, notice } from "./api.js";
import { pct, ratingsChart } from "./evaluation-charts.js";

const status = document.getElementById("ev-status");

function sampling(job) {
  if (!job) return "—";
  if (job.status === "succeeded") return "done";
  if (job.status === "running") return job.total ? `${job.done} of ${job.total} prompts` : "starting";
  return job.status;
}

// Who won, in a few words, for an evaluation of two models (the results page says more).
function result(e) {
  const v = e.verdict;
  if (!v) return e.models.length > 2 ? "see the results" : "—";
  if (v.kind === "no_data") return "no verdicts yet";
  const rate = `${pct(v.win_rate.value)} (${pct(v.win_rate.low)}–${pct(v.win_rate.high)})`;
  return v.kind === "winner"
    ? el("span", {}, el("span", { class: "badge ok" }, "winner"), ` ${v.winner}: ${rate}`)
    : el("span", {}, el("span", { class: "badge" }, "no clear winner"), ` ${v.winner} leads: ${rate}`);
}

async function load() {
  const [{ data: list }, { data: board }] = await Promise.all([
    api("GET", "/evaluations"), api("GET", "/evaluations/leaderboard"),
  ]);
  const body = document.querySelector("#ev-table tbody");
  if (!list.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" },
      "No evaluations yet. ", el("a", { href: "/evaluations/new" }, "Start one"), ".")));
  } else {
    body.replaceChildren(...list.map((e) => el("tr", {},
      el("td", {}, el("a", { href: `/evaluations/${encodeURIComponent(e.project_id)}` }, e.name)),
      el("td", {}, e.models.length ? e.models.join(" vs ") : "—"),
      el("td", {}, result(e)),
      el("td", {}, `${e.judgements} verdicts on ${e.items} items`),
      el("td", {}, e.job ? el("a", { href: `/admin/training/${encodeURIComponent(e.job.id)}` }, sampling(e.job)) : "—"),
      el("td", {}, fmtDate(e.created_at)),
    )));
  }
  const ref = board.leaderboard.reference;
  document.getElementById("ev-board-ref").textContent = ref ? `${ref} is fixed at 1000.` : "";
  document.getElementById("chart-board").replaceChildren(
    ratingsChart(board.leaderboard, "Ratings of every model compared, with 95% intervals"));
}

load().catch((err) => notice(status, "error", err.message));
