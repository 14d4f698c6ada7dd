// Sample a new round: a sample job for the chosen model and prompts, watched to the end.
import { apiData as api, el, notice } from "./api.js";

const form = document.getElementById("sample-form");
const status = document.getElementById("sample-status");
const bar = document.getElementById("sample-progress");
const pid = form.dataset.projectId;

async function loadModels() {
  const [models, project, projects] = await Promise.all([api("GET", "/models"), api("GET", `/projects/${pid}`),
    api("GET", "/projects")]);
  form.elements.from_project_id.append(...projects.filter((p) => p.id !== pid)
    .map((p) => el("option", { value: p.id }, `${p.name} (${p.task_kind})`)));
  form.elements.from_project_id.addEventListener("change", () => {
    if (form.elements.from_project_id.value) form.querySelector("input[value=copy]").checked = true;
  });
  const select = form.elements.model_id;
  select.replaceChildren(...models.filter((m) => !m.retired).map((m) => el("option", { value: m.id },
    `${m.name}${m.id === project.sampler_model_id ? " (the project's sampler)" : ""}`)));
  if (project.sampler_model_id) select.value = project.sampler_model_id;
}

async function watch(jobId) {
  bar.hidden = false;
  for (;;) {
    const job = await api("GET", `/jobs/${jobId}`);
    bar.max = job.progress.total || 1;
    bar.value = job.progress.step || 0;
    const r = job.result || {};
    const done = job.status === "succeeded"
      ? ` · ${r.prompts} prompts, ${r.completions} answers, ${r.items} new items in the queue` : "";
    status.replaceChildren(`Sample job `, el("a", { href: `/admin/training/${job.id}` }, job.id), `: ${job.status}`,
      job.progress.total ? ` · ${job.progress.step}/${job.progress.total} prompts` : "", done, job.error ? ` · ${job.error}` : "");
    status.className = `notice ${job.status === "failed" ? "error" : job.status === "succeeded" ? "ok" : ""}`;
    if (!["queued", "running"].includes(job.status)) break;
    await new Promise((res) => setTimeout(res, 1000));
  }
  bar.hidden = true;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const d = new FormData(form);
  const copy = d.get("prompts") === "copy";
  if (copy && !d.get("from_project_id")) { notice(status, "error", "Choose the project to import prompts from."); return; }
  const params = { project_id: pid, model_id: d.get("model_id"), prompts: copy ? "unsampled" : d.get("prompts"),
    limit: Number(d.get("limit")), k: Number(d.get("k")), temperature: Number(d.get("temperature")),
    top_p: Number(d.get("top_p")), max_tokens: Number(d.get("max_tokens")), seed: Number(d.get("seed")) };
  if (copy) params.from_project_id = d.get("from_project_id");
  try {
    const job = await api("POST", "/jobs", { kind: "sample", params });
    await watch(job.id);
  } catch (err) {
    notice(status, "error", err.message);
  }
});
loadModels().catch((err) => notice(status, "error", err.message));
