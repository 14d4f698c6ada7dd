// The evaluations list: every evaluation the user may read with its progress, and the
// Bradley–Terry leaderboard across all of them.
import { api, el, fmtDate, notice } from "./api.js";
import { ratingsChart } from "./evaluation-charts.js";

const status = document.getElementById("ev-status");

function sampling(job) {
  if (!job) return "—";
  if (job.status === "succeeded") return "done";
  if (job.status === "running") return job.total ? `${job.done} of ${job.total} prompts` : "starting";
  return job.status;
}

async function load() {
  const [{ data: list }, { data: board }] = await Promise.all([
    api("GET", "/evaluations"), api("GET", "/evaluations/leaderboard"),
  ]);
  const body = document.querySelector("#ev-table tbody");
  if (!list.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted" },
      "No evaluations yet. ", el("a", { href: "/evaluations/new" }, "Start one"), ".")));
  } else {
    body.replaceChildren(...list.map((e) => el("tr", {},
      el("td", {}, el("a", { href: `/evaluations/${encodeURIComponent(e.project_id)}` }, e.name)),
      el("td", {}, e.models.length ? e.models.join(" vs ") : "—"),
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
