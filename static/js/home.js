import { api } from "./api.js";

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
