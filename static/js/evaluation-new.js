// The "new evaluation" form: two models, the prompts' project and the labelers, all
// chosen from lists; on success it links to the results page and the sampling job.
import { apiData as api, el, notice } from "./api.js";

const form = document.getElementById("eval-form");
const status = document.getElementById("eval-status");
const box = document.getElementById("f-labelers");
const count = document.getElementById("f-labeler-count");

function chosen() {
  return [...box.querySelectorAll("input[type=checkbox]:checked")].map((c) => c.value);
}

function showCount() {
  count.textContent = `${chosen().length} chosen`;
}

async function load() {
  const [models, projects, labelers] = await Promise.all([
    api("GET", "/models"), api("GET", "/projects"), api("GET", "/evaluations/labelers"),
  ]);
  const live = models.filter((m) => !m.retired);
  for (const [name, pick] of [["model_a", 0], ["model_b", 1]]) {
    form.elements[name].replaceChildren(...live.map((m) => el("option", { value: m.id }, m.name)));
    form.elements[name].value = (live[pick] || live[0] || {}).id || "";
  }
  const sources = projects.filter((p) => p.task_kind !== "evaluation");
  form.elements.project_id.replaceChildren(...sources.map((p) => el("option", { value: p.id }, p.name)));
  box.replaceChildren(...(labelers.length ? labelers.map((u) => el("label", { class: "check" },
    el("input", { type: "checkbox", name: "labelers", value: u.id, onchange: showCount }), ` ${u.name}`))
    : [el("span", { class: "muted" }, "There are no active labelers; an admin creates them on the Users page.")]));
  showCount();
  if (live.length < 2) notice(status, "warn", "Register at least two model versions on the Models page first.");
}

document.getElementById("f-all-labelers").addEventListener("click", () => {
  const boxes = [...box.querySelectorAll("input[type=checkbox]")];
  const all = boxes.every((c) => c.checked);
  for (const c of boxes) c.checked = !all;
  showCount();
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = form.elements;
  if (!chosen().length) {
    notice(status, "error", "Choose at least one labeler: nobody could judge the evaluation otherwise.");
    return;
  }
  const body = {
    model_a: f.model_a.value,
    model_b: f.model_b.value,
    prompts: { project_id: f.project_id.value, all: f.all.checked },
    max_prompts: f.max_prompts.value ? Number(f.max_prompts.value) : null,
    name: f.name.value.trim() || null,
    labelers: chosen(),
    overlap: Number(f.overlap.value),
    seed: Number(f.seed.value),
    sampling: { temperature: Number(f.temperature.value), top_p: Number(f.top_p.value),
      max_tokens: Number(f.max_tokens.value) },
  };
  notice(status, "info", "Starting…");
  try {
    const made = await api("POST", "/evaluations", body);
    status.replaceChildren(
      `Started on ${made.prompts} prompts: `,
      el("a", { href: `/evaluations/${encodeURIComponent(made.project_id)}` }, `results of ${made.name}`),
      " · ",
      el("a", { href: `/admin/training/${encodeURIComponent(made.job_id)}` }, "sampling progress"),
    );
    status.className = "notice ok";
  } catch (err) {
    notice(status, "error", err.message);
  }
});

load().catch((err) => notice(status, "error", err.message));
