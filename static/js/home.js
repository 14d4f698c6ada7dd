import { api, el, fmtDate } from "./api.js";

const root = document.getElementById("home-projects");
if (root) {
  api("GET", "/me/projects").then(({ data }) => {
    for (const p of data || []) {
      const card = root.querySelector(`[data-project-id="${CSS.escape(p.id)}"]`);
      if (!card) continue;
      for (const key of ["done_today", "done_total", "remaining"]) {
        const cell = card.querySelector(`[data-stat="${key}"]`);
        if (cell && p[key] !== undefined && p[key] !== null) cell.textContent = String(p[key]);
      }
    }
  }).catch(() => { /* the counts stay "–"; the links still work */ });
}

// Engineers and admins: the runs, models and projects they need first.

async function fill(id, path, row, empty, cols) {
  const body = document.querySelector(`#${id} tbody`);
  try {
    const { data } = await api("GET", path);
    const items = [...(data || [])].sort((a, b) => String(b.created_at || "").localeCompare(String(a.created_at || ""))).slice(0, 8);
    body.replaceChildren(...(items.length ? items.map(row)
      : [el("tr", {}, el("td", { colspan: String(cols), class: "muted" }, empty))]));
  } catch (err) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: String(cols), class: "muted" }, err.message)));
  }
}

if (document.getElementById("studio")) {
  fill("studio-jobs", "/jobs?limit=8", (j) => el("tr", {},
    el("td", {}, el("a", { href: `/admin/training/${j.id}` }, j.id)),
    el("td", {}, j.kind === "train" ? `train · ${j.params.stage}` : j.kind),
    el("td", {}, j.status),
    el("td", {}, j.progress && j.progress.step !== undefined ? `${j.progress.step}/${j.progress.total || "?"}` : "")),
  "No jobs yet: start a run from the training page.", 4);
  fill("studio-models", "/models", (m) => el("tr", {},
    el("td", {}, m.name), el("td", {}, m.info?.manifest?.kind || m.kind), el("td", {}, fmtDate(m.created_at))),
  "No models registered yet.", 3);
  fill("studio-projects", "/projects", (p) => el("tr", {},
    el("td", {}, p.name), el("td", {}, p.task_kind.replace("_", " ")),
    el("td", {}, el("a", { href: "/admin/training" }, "train"), " · ",
      el("a", { href: `/admin/projects/${p.id}/sample` }, "sample a round"))),
  "No projects you may read yet: an admin adds you to one.", 3);
}
