import { api, el, notice } from "./api.js";

const body = document.querySelector("#dash-table tbody");
const status = document.getElementById("dash-status");

function bar(done, total) {
  const pct = total ? Math.round((100 * done) / total) : 0;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 100 8");
  svg.setAttribute("width", "120");
  svg.setAttribute("height", "10");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${pct}% of items done`);
  const bg = document.createElementNS(svg.namespaceURI, "rect");
  Object.entries({ x: 0, y: 0, width: 100, height: 8, class: "remaining-fill", rx: 2 }).forEach(([k, v]) => bg.setAttribute(k, v));
  const fg = document.createElementNS(svg.namespaceURI, "rect");
  Object.entries({ x: 0, y: 0, width: pct, height: 8, class: "done-fill", rx: 2 }).forEach(([k, v]) => fg.setAttribute(k, v));
  svg.append(bg, fg);
  return el("span", { class: "row" }, svg, `${done} / ${total}`);
}

async function main() {
  try {
    const [projects, users] = await Promise.all([api("GET", "/projects"), api("GET", "/users")]);
    const active = projects.data.filter((p) => !p.archived);
    document.getElementById("t-projects").textContent = String(active.length);
    document.getElementById("t-users").textContent = String(users.data.filter((u) => u.is_active).length);
    if (!active.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 6 }, "No projects yet. ", el("a", { href: "/admin/projects" }, "Create one"))));
      document.getElementById("t-judgements").textContent = "0";
      return;
    }
    let total = 0;
    const rows = await Promise.all(active.map(async (p) => {
      const base = `/admin/projects/${encodeURIComponent(p.id)}`;
      let prog = null;
      try { prog = (await api("GET", `/projects/${encodeURIComponent(p.id)}/progress`)).data; } catch (err) { prog = null; }
      total += prog ? prog.judgements : 0;
      const items = prog && prog.items;
      return el("tr", {},
        el("td", {}, el("a", { href: base }, p.name)),
        el("td", {}, p.task_kind.replaceAll("_", " ")),
        el("td", {}, items ? bar(items.done, items.total) : "–"),
        el("td", {}, prog ? String(prog.judgements) : "–"),
        el("td", {}, prog && prog.median_seconds != null ? prog.median_seconds.toFixed(1) : "–"),
        el("td", { class: "row" }, el("a", { href: `${base}/import` }, "Import"), el("a", { href: `${base}/progress` }, "Progress"), el("a", { href: `${base}/judgements` }, "Judgements")));
    }));
    body.replaceChildren(...rows);
    document.getElementById("t-judgements").textContent = String(total);
  } catch (err) {
    notice(status, "error", err.message);
  }
}
main();
