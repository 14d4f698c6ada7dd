// Model registry page: register, test ("one reply to this prompt") and retire versions.
import { api as request, el, fmtDate, notice } from "./api.js";

// These pages only need the answer's body.
async function api(method, path, body) {
  return (await request(method, path, body)).data;
}

const form = document.getElementById("model-form");
const status = document.getElementById("model-status");
const out = document.getElementById("test-out");

function showKindFields() {
  const kind = form.elements.kind.value;
  for (const label of form.querySelectorAll("[data-for]")) label.hidden = label.dataset.for !== kind;
}

async function waitForJob(id) {
  for (;;) {
    const job = await api("GET", `/jobs/${id}`);
    if (job.status === "succeeded") return job.result.reply;
    if (["failed", "cancelled"].includes(job.status)) throw new Error(job.error || job.status);
    notice(out, "info", `Loading the model… ${job.progress.message || job.status}`);
    await new Promise((r) => setTimeout(r, 1500));
  }
}

async function test(model) {
  const prompt = window.prompt(`Prompt for ${model.name}:`, "Say hello in one sentence.");
  if (!prompt) return;
  notice(out, "info", "Asking the model…");
  try {
    const answer = await api("POST", `/models/${model.id}/test`, { prompt, max_tokens: 64 });
    const reply = answer.reply ?? await waitForJob(answer.job_id);
    notice(out, "ok", `${model.name}: ${reply}`);
  } catch (err) {
    notice(out, "error", err.message);
  }
}

const evalForm = document.getElementById("eval-form");
const evalStatus = document.getElementById("eval-status");

function fillEvaluationPickers(models, projects) {
  const live = models.filter((m) => !m.retired);
  for (const [name, pick] of [["model_a", 0], ["model_b", 1]]) {
    const select = evalForm.elements[name];
    const keep = select.value;
    select.replaceChildren(...live.map((m) => el("option", { value: m.id }, m.name)));
    select.value = live.some((m) => m.id === keep) ? keep : (live[pick] || live[0] || {}).id || "";
  }
  if (projects) {
    evalForm.elements.project_id.replaceChildren(...projects.map((p) => el("option", { value: p.id }, p.name)));
  }
}

evalForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = evalForm.elements;
  const body = {
    model_a: f.model_a.value,
    model_b: f.model_b.value,
    prompts: { project_id: f.project_id.value, all: f.all.checked },
    max_prompts: f.max_prompts.value ? Number(f.max_prompts.value) : null,
    name: f.name.value.trim() || null,
    sampling: { temperature: Number(f.temperature.value), top_p: Number(f.top_p.value),
      max_tokens: Number(f.max_tokens.value) },
    overlap: Number(f.overlap.value),
  };
  notice(evalStatus, "info", "Starting…");
  try {
    const made = await api("POST", "/evaluations", body);
    evalStatus.replaceChildren(
      `Started on ${made.prompts} prompts: `,
      el("a", { href: `/admin/projects/${made.project_id}` }, made.name),
      " · ",
      el("a", { href: `/admin/training/${made.job_id}` }, "sampling progress"),
    );
    evalStatus.className = "notice ok";
  } catch (err) {
    notice(evalStatus, "error", err.message);
  }
});

let projectsLoaded = false;

async function load() {
  const models = await api("GET", "/models?include_retired=true");
  const projects = projectsLoaded ? null : await api("GET", "/projects");
  projectsLoaded = true;
  fillEvaluationPickers(models, projects);
  const body = document.querySelector("#models-table tbody");
  body.replaceChildren(...models.map((m) => {
    const actions = el("td", {});
    const testBtn = el("button", { type: "button" }, "Test");
    testBtn.addEventListener("click", () => test(m));
    actions.append(testBtn);
    if (!m.retired) {
      const retire = el("button", { type: "button" }, "Retire");
      retire.addEventListener("click", async () => {
        try { await api("POST", `/models/${m.id}/retire`); await load(); } catch (err) { notice(out, "error", err.message); }
      });
      actions.append(retire);
    }
    return el("tr", {},
      el("td", {}, m.retired ? `${m.name} (retired)` : m.name),
      el("td", {}, m.kind === "local" ? (m.info?.manifest?.kind || "local") : "endpoint"),
      el("td", {}, m.path || `${m.base_url} · ${m.endpoint_model}`),
      el("td", {}, m.kind === "endpoint" ? m.api_key : "—"),
      el("td", {}, fmtDate(m.created_at)),
      actions);
  }));
}

form.elements.kind.addEventListener("change", showKindFields);
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(form).entries());
  const body = data.kind === "local" ? { kind: "local", name: data.name, path: data.path }
    : { kind: "endpoint", name: data.name, base_url: data.base_url, endpoint_model: data.endpoint_model,
      api_key: data.api_key || null };
  try {
    await api("POST", "/models", body);
    form.reset();
    showKindFields();
    notice(status, "ok", "Registered.");
    await load();
  } catch (err) {
    notice(status, "error", err.message);
  }
});
load().catch((err) => notice(status, "error", err.message));
