// Training page: choose the data and models from lists, a hyper-parameter form drawn from
// the trainer's own config (GET /training/stages), start runs and list jobs. Job page:
// progress, ETA, curves (static/js/charts.js), log, cancel, resume from the last checkpoint.
import { apiData as api, el, fmtDate, notice } from "./api.js";
import { lineChart } from "./charts.js";

// Which metrics get a curve first; others follow alphabetically.
const PREFERRED = ["loss", "val_loss", "reward_accuracy", "accuracy", "val_accuracy", "mean_reward",
  "kl", "entropy", "clip_fraction", "value_loss", "grad_norm", "learning_rate"];
// The y axis of a metric: its name and unit, from the name's last part.
const UNITS = [[/loss$/, "nats per token"], [/accuracy$/, "fraction correct"], [/kl$/, "nats"],
  [/entropy$/, "nats"], [/grad_norm$/, "L2 norm"], [/learning_rate$/, "learning rate"],
  [/reward|score|margin/, "reward (model units)"], [/fraction$/, "fraction"], [/seconds$/, "seconds"]];

export function unitOf(name) {
  const hit = UNITS.find(([re]) => re.test(name));
  return hit ? hit[1] : "value";
}

function fmtEta(seconds) {
  if (seconds == null) return "";
  const s = Math.round(seconds);
  if (s < 90) return `ETA ${s} s`;
  if (s < 5400) return `ETA ${Math.round(s / 60)} min`;
  return `ETA ${(s / 3600).toFixed(1)} h`;
}

function fmtProgress(p) {
  if (!p || p.step === undefined) return "";
  return `${p.stage || ""} step ${p.step}/${p.total || "?"}`;
}

// ---------------------------------------------------------------- the list page

async function loadModels() {
  const models = await api("GET", "/models");
  for (const select of document.querySelectorAll("select[data-models]")) {
    select.replaceChildren();
    if (select.hasAttribute("data-optional")) select.append(el("option", { value: "" }, "—"));
    for (const m of models.filter((x) => x.kind === "local" && !x.retired)) {
      select.append(el("option", { value: m.id }, `${m.name} (${m.info?.manifest?.kind || "model"})`));
    }
  }
}

async function loadProjects(form) {
  const select = form.elements.project_id;
  const projects = await api("GET", "/projects");
  select.replaceChildren(el("option", { value: "" }, projects.length ? "Choose a project" : "No projects you may read"),
    ...projects.map((p) => el("option", { value: p.id }, `${p.name} (${p.task_kind})`)));
}

async function loadExports(form, preselect) {
  const pid = form.elements.project_id.value;
  const select = form.elements.export_id;
  if (!pid) { select.replaceChildren(el("option", { value: "" }, "Choose a project first")); return; }
  const exports = await api("GET", `/training/exports?project_id=${encodeURIComponent(pid)}`);
  const summary = (e) => Object.entries(e.files || {}).filter(([, f]) => f.records)
    .map(([name, f]) => `${name.replace(".jsonl", "")} ${f.records}`).join(", ");
  select.replaceChildren(
    el("option", { value: "" }, exports.length ? "Choose an export" : "No finished export: tick “export now”"),
    ...exports.map((e) => el("option", { value: e.id }, `${fmtDate(e.created_at)} · ${e.id} · ${summary(e) || "empty"}`)));
  if (preselect) select.value = preselect;
  else if (exports.length) select.value = exports[0].id;
}

// One input per config field, typed by the field; the trainer's help text under it.
function hpInput(h) {
  const name = `hp_${h.name}`;
  const shown = h.default === null ? "" : h.default;
  let input;
  if (h.type === "boolean") {
    input = el("select", { name, "data-type": h.type, "data-default": String(h.default) },
      el("option", { value: "true" }, "true"), el("option", { value: "false" }, "false"));
    input.value = String(h.default);
  } else if (h.type === "choice") {
    input = el("select", { name, "data-type": h.type, "data-default": String(shown) },
      ...(h.nullable ? [el("option", { value: "" }, "—")] : []), ...h.choices.map((c) => el("option", { value: c }, c)));
    input.value = String(shown);
  } else {
    const attrs = { name, "data-type": h.type, "data-default": h.type === "mapping" || h.type === "list" ? JSON.stringify(h.default) : String(shown) };
    if (h.type === "integer") Object.assign(attrs, { type: "number", step: "1" });
    else if (h.type === "number") Object.assign(attrs, { type: "number", step: "any" });
    else Object.assign(attrs, { maxlength: "2000" });
    if (h.type === "list") attrs.placeholder = "comma-separated";
    if (h.type === "mapping") attrs.placeholder = '{"better": 1, "slightly_better": 0.5}';
    if (h.nullable) attrs.placeholder = attrs.placeholder || "empty: the trainer decides";
    input = el("input", attrs);
    input.value = h.type === "list" ? (h.default || []).join(", ") : h.type === "mapping" ? (h.default ? JSON.stringify(h.default) : "") : String(shown);
  }
  return el("label", {}, h.name, input, el("small", {}, h.help));
}

// Only fields changed from the trainer's default are sent: the run's config records them.
function hpValues(container) {
  const out = {};
  for (const input of container.querySelectorAll("[data-type]")) {
    const raw = input.value.trim();
    const type = input.dataset.type;
    if (type === "list" || type === "mapping") {
      if (raw === "" && input.dataset.default === "null") continue;
      const value = type === "list" ? raw.split(",").map((s) => s.trim()).filter(Boolean) : (raw ? JSON.parse(raw) : null);
      if (JSON.stringify(value) !== input.dataset.default) out[input.name.slice(3)] = value;
      continue;
    }
    if (raw === input.dataset.default || (raw === "" && input.dataset.default === "")) continue;
    let value = raw;
    if (raw === "") value = null;
    else if (type === "integer" || type === "number") value = Number(raw);
    else if (type === "boolean") value = raw === "true";
    out[input.name.slice(3)] = value;
  }
  return out;
}

function showStage(form, stages) {
  const stage = stages.find((s) => s.name === form.elements.stage.value);
  if (!stage) return;
  const box = document.getElementById("hp-fields");
  box.replaceChildren(...stage.hyperparameters.map(hpInput));
  const needs = { reward: stage.needs_reward_model, ref: stage.name === "dpo", value: stage.name === "ppo" };
  for (const label of form.querySelectorAll("[data-needs]")) label.hidden = !needs[label.dataset.needs];
}

async function loadJobs() {
  const body = document.querySelector("#jobs-table tbody");
  const jobs = await api("GET", "/jobs?limit=50");
  body.replaceChildren(...(jobs.length ? jobs.map((j) => el("tr", {},
    el("td", {}, el("a", { href: `/admin/training/${j.id}` }, j.id)),
    el("td", {}, j.kind === "train" ? `train · ${j.params.stage}${j.params.resume_from ? " (resumed)" : ""}` : j.kind),
    el("td", {}, j.status),
    el("td", {}, [fmtProgress(j.progress), fmtEta(j.status === "running" ? j.progress.eta_seconds : null)].filter(Boolean).join(" · ")),
    el("td", {}, fmtDate(j.created_at)))) : [el("tr", {}, el("td", { colspan: "5", class: "muted" }, "No jobs yet."))]));
}

function trainParams(form) {
  const data = new FormData(form);
  const params = { stage: data.get("stage"), model_id: data.get("model_id"),
    hyperparameters: hpValues(document.getElementById("hp-fields")) };
  if (data.get("export_now")) params.export_now = { project_id: data.get("project_id"), options: {} };
  else params.export_id = data.get("export_id");
  for (const key of ["reward_model_id", "ref_model_id", "value_model_id", "name"]) {
    const label = form.elements[key].closest("label");
    if (data.get(key) && !(label && label.hidden)) params[key] = data.get(key);
  }
  if (data.get("num_processes")) {
    params.accelerate = { num_processes: Number(data.get("num_processes")) };
    if (data.get("config_file")) params.accelerate.config_file = data.get("config_file");
  }
  return params;
}

async function initList() {
  const form = document.getElementById("train-form");
  const status = document.getElementById("train-status");
  const check = document.getElementById("diagnostic-form");
  check.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(check);
    try {
      const job = await api("POST", "/jobs", { kind: "diagnostic", params: {
        steps: Number(data.get("steps")), step_seconds: Number(data.get("step_seconds")) } });
      window.location.href = `/admin/training/${job.id}`;
    } catch (err) {
      notice(status, "error", err.message);
    }
  });
  loadJobs().catch((e) => notice(status, "error", e.message));
  setInterval(() => loadJobs().catch(() => {}), 3000);
  form.elements.project_id.addEventListener("change", () => loadExports(form).catch((e) => notice(status, "error", e.message)));
  form.elements.export_now.addEventListener("change", () => {
    form.elements.export_id.disabled = form.elements.export_now.checked;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let params;
    try { params = trainParams(form); } catch (err) {
      notice(status, "error", `A hyper-parameter is not valid JSON: ${err.message}`); return;
    }
    if (!params.export_now && !params.export_id) {
      notice(status, "error", "Choose an export, or tick “export now”."); return;
    }
    try {
      const job = await api("POST", "/jobs", { kind: "train", params });
      window.location.href = `/admin/training/${job.id}`;
    } catch (err) {
      notice(status, "error", err.message);
    }
  });
  try {
    const [stages] = await Promise.all([api("GET", "/training/stages"), loadModels(), loadProjects(form)]);
    form.elements.stage.addEventListener("change", () => showStage(form, stages));
    showStage(form, stages);
    const preselect = form.dataset.preselectExport;
    if (preselect) {
      form.elements.project_id.value = form.dataset.preselectProject;
      await loadExports(form, preselect);
    }
  } catch (err) {
    notice(status, "error", err.message);
  }
}

// ---------------------------------------------------------------- one job

// The server spells the numbers JSON cannot hold (a diverged loss) as these strings.
const NON_FINITE = new Set(["NaN", "Infinity", "-Infinity"]);

// One metric's figure; points that are not finite numbers are not drawn but named above it.
function curve(name, { points, bad }) {
  const figure = el("figure", { class: "curve", "data-metric": name }, el("figcaption", {}, name));
  if (bad.length) {
    const [step, value] = bad[bad.length - 1];
    const more = bad.length > 1 ? ` (${bad.length} points not drawn)` : "";
    figure.append(el("p", { class: "notice error", "data-non-finite": String(bad.length) },
      `${value} at step ${step}${more}`));
  }
  if (points.length) figure.append(lineChart(points, { title: name, xLabel: "step", yLabel: unitOf(name) }));
  return figure;
}

function initJob(root) {
  const jid = root.dataset.jobId;
  const series = new Map();
  let lastStep = -1;
  let done = false;
  const cancel = document.getElementById("job-cancel");
  const resume = document.getElementById("job-resume");
  const note = document.getElementById("job-notice");
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try { await api("POST", `/jobs/${jid}/cancel`); } catch (err) { notice(note, "error", err.message); }
  });
  resume.addEventListener("click", async () => {
    resume.disabled = true;
    try {
      const job = await api("POST", `/training/runs/${jid}/resume`);
      window.location.href = `/admin/training/${job.id}`;
    } catch (err) {
      resume.disabled = false;
      notice(note, "error", err.message);
    }
  });
  async function tick() {
    const job = await api("GET", `/jobs/${jid}`);
    document.getElementById("job-status").textContent = job.cancel_requested && job.status === "running" ? "stopping…" : job.status;
    const bar = document.getElementById("job-progress");
    bar.max = job.progress.total || 1;
    bar.value = job.progress.step || 0;
    document.getElementById("job-step").textContent = fmtProgress(job.progress);
    document.getElementById("job-eta").textContent = job.status === "running" ? fmtEta(job.progress.eta_seconds) : "";
    document.getElementById("job-command").textContent = job.result.command || "–";
    const log = document.getElementById("job-log");
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent = job.log_tail || "–";
    if (atBottom) log.scrollTop = log.scrollHeight;
    document.getElementById("job-result").textContent = Object.keys(job.result).length ? JSON.stringify(job.result, null, 2) : "–";
    const error = document.getElementById("job-error");
    error.hidden = !job.error;
    if (job.error) error.textContent = job.error;
    cancel.hidden = !["queued", "running"].includes(job.status);
    resume.hidden = !(job.kind === "train" && ["cancelled", "failed"].includes(job.status));
    const m = await api("GET", `/jobs/${jid}/metrics?after_step=${lastStep}`);
    for (const row of m.items) {
      for (const [k, v] of Object.entries(row)) {
        if (k === "step" || (typeof v !== "number" && !NON_FINITE.has(v))) continue;
        if (!series.has(k)) series.set(k, { points: [], bad: [] });
        const s = series.get(k);
        if (typeof v === "number") s.points.push([row.step, v]); else s.bad.push([row.step, v]);
      }
    }
    lastStep = m.last_step;
    const names = [...series.keys()].sort((a, b) => {
      const ia = PREFERRED.indexOf(a), ib = PREFERRED.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
    });
    if (m.items.length || !document.querySelector("#job-curves figure")) {
      document.getElementById("job-curves").replaceChildren(...(names.length
        ? names.map((n) => curve(n, series.get(n))) : [el("p", { class: "muted" }, "No points yet.")]));
    }
    done = !["queued", "running"].includes(job.status);
  }
  const loop = async () => {
    try { await tick(); } catch (err) { /* transient: try again */ }
    if (!done) setTimeout(loop, 1500);
  };
  loop();
}

const root = document.getElementById("job");
if (root) initJob(root); else initList();
