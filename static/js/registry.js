// Model registry page: register, test ("one reply to this prompt") and retire versions.
import { apiData as api, el, fmtDate, notice } from "./api.js";

// These pages only need the answer's body.
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

let projectsLoaded = false;
let projectList = [];

function stageOf(m) {
  return m.kind === "local" ? (m.info?.stage || m.info?.manifest?.kind || "local") : "endpoint";
}

// model ← run ← export, from what the runner recorded when it registered the model.
function lineageCells(m, byId) {
  const parent = m.parent_id ? byId.get(m.parent_id) : null;
  return [
    el("td", {}, parent ? parent.name : "—"),
    el("td", {}, m.info?.job ? el("a", { href: `/admin/training/${m.info.job}` }, m.info.job) : "—"),
    el("td", {}, m.info?.export ? el("code", {}, m.info.export) : "—"),
  ];
}

function byName(models, id) {
  return (models.find((m) => m.id === id) || { name: "a model not listed" }).name;
}

function fillSamplerPickers(models) {
  const modelSelect = document.querySelector("select[name=sampler_model]");
  const keep = modelSelect.value;
  modelSelect.replaceChildren(...models.filter((m) => !m.retired).map((m) => el("option", { value: m.id }, m.name)));
  if (keep) modelSelect.value = keep;
  const projectSelect = document.querySelector("select[name=sampler_project]");
  const chosen = projectSelect.value;
  projectSelect.replaceChildren(...projectList.map((p) => el("option", { value: p.id },
    `${p.name}${p.sampler_model_id ? ` (sampler: ${byName(models, p.sampler_model_id)})` : " (no sampler yet)"}`)));
  if (chosen) projectSelect.value = chosen;
}

// export ← judgements: the records each export holds (an export of a project the viewer may
// not read, or one deleted since, shows its id only).
const exportInfo = new Map();

async function describeExport(eid) {
  if (!exportInfo.has(eid)) {
    exportInfo.set(eid, api("GET", `/training/exports/${eid}`).then((e) => {
      const project = projectList.find((p) => p.id === e.project);
      const records = Object.entries(e.files || {}).filter(([, f]) => f.records)
        .map(([name, f]) => `${name.replace(".jsonl", "")} ${f.records}`).join(", ");
      return `${project ? project.name : e.project} · ${records || "no records"}`;
    }).catch(() => ""));
  }
  return exportInfo.get(eid);
}

function fillExportsUsed(models) {
  const used = new Map();
  for (const m of models) {
    if (!m.info?.export) continue;
    if (!used.has(m.info.export)) used.set(m.info.export, []);
    used.get(m.info.export).push(m.name);
  }
  document.querySelector("#exports-used tbody").replaceChildren(...(used.size ? [...used].map(([eid, names]) => {
    const what = el("small", { class: "muted", "data-export-records": eid });
    describeExport(eid).then((text) => { what.textContent = text; });
    return el("tr", {}, el("td", {}, el("code", {}, eid), el("div", {}, what)), el("td", {}, names.join(", ")));
  }) : [el("tr", {}, el("td", { colspan: "2", class: "muted" }, "No model was trained here yet."))]));
}

async function load() {
  const models = await api("GET", "/models?include_retired=true");
  const projects = projectsLoaded ? null : await api("GET", "/projects");
  if (projects) projectList = projects;
  projectsLoaded = true;
  const byId = new Map(models.map((m) => [m.id, m]));
  const samplerOf = new Map();
  for (const p of projectList) if (p.sampler_model_id) samplerOf.set(p.sampler_model_id, [...(samplerOf.get(p.sampler_model_id) || []), p.name]);
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
      actions.append(" ", retire);
    }
    const samples = samplerOf.get(m.id);
    return el("tr", { "data-model": m.id },
      el("td", {}, el("div", {}, m.name), el("small", { class: "muted" }, m.path || `${m.base_url} · ${m.endpoint_model}`)),
      el("td", {}, stageOf(m)),
      ...lineageCells(m, byId),
      el("td", {}, fmtDate(m.created_at)),
      el("td", {}, m.retired ? "retired" : samples ? `sampler of ${samples.join(", ")}` : "live"),
      actions);
  }));
  fillSamplerPickers(models);
  fillExportsUsed(models);
}

document.getElementById("sampler-set").addEventListener("click", async () => {
  const model = document.querySelector("select[name=sampler_model]");
  const project = document.querySelector("select[name=sampler_project]");
  const status = document.getElementById("sampler-status");
  try {
    const p = await api("PUT", `/projects/${project.value}/sampler`, { model_id: model.value });
    projectList = projectList.map((x) => (x.id === p.id ? p : x));
    notice(status, "ok", `${model.selectedOptions[0].text} now samples the next rounds of ${p.name}.`);
    await load();
  } catch (err) {
    notice(status, "error", err.message);
  }
});

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
