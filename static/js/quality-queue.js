// A project's most disputed items, each a link to its review page.
import { api, el, notice } from "./api.js";
import { pct } from "./charts.js";

const root = document.getElementById("review-queue");
const status = document.getElementById("rq-status");
try {
  const { data } = await api("GET", `/projects/${encodeURIComponent(root.dataset.project)}/review?limit=100`);
  notice(status, "", data.items.length ? "" : "No item has two judgements yet.");
  document.querySelector("#rq-table tbody").replaceChildren(...data.items.map((d) => el("tr", {},
    el("td", {}, d.prompt || "(no prompt)"), el("td", { class: "num" }, String(d.labelers)),
    el("td", { class: "num" }, `${d.agreed} of ${d.compared}`), el("td", { class: "num" }, pct(d.dispute)),
    el("td", {}, el("a", { class: "button small", href: `/review/items/${encodeURIComponent(d.item_id)}` }, "Review")))));
} catch (err) {
  notice(status, "error", err.message);
}
