import { api, el, notice } from "./api.js";
import { hBars, perDayChart, stackedBar } from "./charts.js";

const root = document.getElementById("progress");
const pid = root.dataset.project;

async function main() {
  try {
    const { data } = await api("GET", `/projects/${encodeURIComponent(pid)}/progress`);
    const items = data.items || { total: 0, done: 0, in_progress: 0, remaining: 0 };
    document.getElementById("p-total").textContent = String(items.total);
    document.getElementById("p-judgements").textContent = String(data.judgements);
    document.getElementById("p-median").textContent = data.median_seconds != null ? data.median_seconds.toFixed(1) : "–";
    document.getElementById("chart-items").replaceChildren(stackedBar([
      { name: "Done", value: items.done, cls: "done-fill" },
      { name: "In progress", value: items.in_progress, cls: "progress-fill" },
      { name: "Remaining", value: items.remaining, cls: "remaining-fill" },
    ], `Items: ${items.done} done, ${items.in_progress} in progress, ${items.remaining} remaining`));
    document.getElementById("chart-days").replaceChildren(perDayChart(data.per_day || [], "Judgements per labeler per day"));
    document.getElementById("chart-seconds").replaceChildren(hBars(
      (data.per_labeler || []).map((l) => ({ name: l.labeler, value: l.median_seconds })),
      "Median seconds per judgement by labeler", "s"));
    document.querySelector("#labeler-table tbody").replaceChildren(...(data.per_labeler || []).map((l) => el("tr", {},
      el("td", {}, l.labeler), el("td", {}, String(l.today)), el("td", {}, String(l.total)),
      el("td", {}, l.median_seconds != null ? l.median_seconds.toFixed(1) : "–"))));
  } catch (err) {
    notice(document.getElementById("progress-status"), "error", err.message);
  }
}
main();
