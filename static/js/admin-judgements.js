import { api, el, fmtDate, notice } from "./api.js";

const form = document.getElementById("filters");
const pid = form.dataset.project;
const tbody = document.querySelector("#j-table tbody");
const more = document.getElementById("more");
const status = document.getElementById("j-status");
let cursor = null;

function query() {
  const q = new URLSearchParams({ limit: "50" });
  const v = (n) => form.querySelector(`[name=${n}]`).value;
  if (v("labeler")) q.set("labeler", v("labeler"));
  if (v("kind")) q.set("kind", v("kind"));
  if (v("since")) q.set("since", `${v("since")}T00:00:00Z`);
  if (v("until")) q.set("until", `${v("until")}T23:59:59Z`);
  if (cursor) q.set("cursor", cursor);
  return q.toString();
}

async function load(append) {
  if (!append) cursor = null;
  try {
    const { data } = await api("GET", `/projects/${encodeURIComponent(pid)}/judgements?${query()}`);
    const rows = data.items.map((j) => el("tr", {},
      el("td", {}, fmtDate(j.created_at)), el("td", {}, j.labeler), el("td", {}, j.kind.replaceAll("_", " ")),
      el("td", {}, String(j.round)), el("td", {}, String(Math.round(j.seconds))), el("td", {}, j.summary),
      el("td", {}, el("a", { href: `/admin/judgements/${encodeURIComponent(j.id)}`, "aria-label": `Open the judgement by ${j.labeler} from ${fmtDate(j.created_at)}` }, "Open"))));
    if (append) tbody.append(...rows); else tbody.replaceChildren(...rows);
    cursor = data.next_cursor;
    more.hidden = !cursor;
    notice(status, tbody.children.length ? "" : "info", tbody.children.length ? "" : "No judgements match these filters yet.");
  } catch (err) {
    notice(status, "error", err.message);
  }
}

async function labelers() {
  try {
    const { data } = await api("GET", `/projects/${encodeURIComponent(pid)}/members`);
    const select = form.querySelector("[name=labeler]");
    for (const m of data) select.append(new Option(`${m.display_name} (${m.email})`, m.id));
  } catch (err) { /* the filter still works for everyone */ }
}

form.addEventListener("submit", (e) => { e.preventDefault(); load(false); });
more.addEventListener("click", () => load(true));
labelers();
load(false);
