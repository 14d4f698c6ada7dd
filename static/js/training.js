// Training page: start runs, list jobs; job page: poll progress and metrics, draw curves.
import { api as request, el, fmtDate, notice } from "./api.js";

// These pages only need the answer's body.
async function api(method, path, body) {
  return (await request(method, path, body)).data;
}

const SVG = "http://www.w3.org/2000/svg";
// Which metrics get a curve, in order; others are drawn after these.
const PREFERRED = ["loss", "val_loss", "reward_accuracy", "accuracy", "mean_reward", "kl",
  "entropy", "clip_fraction", "value_loss"];

function fmtProgress(p) {
  if (!p || p.step === undefined) return "";
  const eta = p.eta_seconds != null ? ` · ETA ${Math.round(p.eta_seconds)} s` : "";
  return `${p.stage || ""} step ${p.step}/${p.total || "?"}${eta}`;
}

async function loadModels() {
  const models = await api("GET", "/models");
  for (const select of document.querySelectorAll("select[data-models]")) {
    if (select.hasAttribute("data-optional")) select.append(el("option", { value: "" }, "—"));
    for (const m of models.filter((x) => x.kind === "local")) {
      select.append(el("option", { value: m.id }, `${m.name} (${m.info?.manifest?.kind || "model"})`));
    }
  }
}

async function loadJobs() {
  const body = document.querySelector("#jobs-table tbody");
  const jobs = await api("GET", "/jobs?limit=50");
  body.replaceChildren(...(jobs.length ? jobs.map((j) => el("tr", {},
    el("td", {}, el("a", { href: `/admin/training/${j.id}` }, j.id)),
    el("td", {}, j.kind === "train" ? `train · ${j.params.stage}` : j.kind),
    el("td", {}, j.status),
    el("td", {}, fmtProgress(j.progress)),
    el("td", {}, fmtDate(j.created_at)))) : [el("tr", {}, el("td", { colspan: "5", class: "muted" }, "No jobs yet."))]));
}

function trainParams(form) {
  const data = new FormData(form);
  const params = { stage: data.get("stage"), model_id: data.get("model_id"), hyperparameters: {} };
  const exportId = data.get("export_id").trim();
  const exportProject = data.get("export_project_id").trim();
  // "Export now": the server queues an export job and this run waits for it.
  if (exportId) params.export_id = exportId;
  else if (exportProject) params.export_now = { project_id: exportProject, options: {} };
  for (const key of ["reward_model_id", "ref_model_id", "name"]) {
    if (data.get(key)) params[key] = data.get(key);
  }
  for (const [key, value] of data.entries()) {
    if (key.startsWith("hp_") && value !== "") params.hyperparameters[key.slice(3)] = Number(value);
  }
  if (data.get("num_processes")) {
    params.accelerate = { num_processes: Number(data.get("num_processes")) };
    if (data.get("config_file")) params.accelerate.config_file = data.get("config_file");
  }
  return params;
}

function initList() {
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
  loadModels().catch((e) => notice(status, "error", e.message));
  loadJobs().catch((e) => notice(status, "error", e.message));
  setInterval(() => loadJobs().catch(() => {}), 3000);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const job = await api("POST", "/jobs", { kind: "train", params: trainParams(form) });
      window.location.href = `/admin/training/${job.id}`;
    } catch (err) {
      notice(status, "error", err.message);
    }
  });
}

// The server spells the numbers JSON cannot hold (a diverged loss) as these strings.
const NON_FINITE = new Set(["NaN", "Infinity", "-Infinity"]);

// One metric's curve; points that are not finite numbers are not drawn but named above it.
function curve(name, { points, bad }) {
  const figure = el("figure", { class: "curve", "data-metric": name }, el("figcaption", {}, name));
  if (bad.length) {
    const [step, value] = bad[bad.length - 1];
    const more = bad.length > 1 ? ` (${bad.length} points not drawn)` : "";
    figure.append(el("p", { class: "notice error", "data-non-finite": String(bad.length) },
      `${value} at step ${step}${more}`));
  }
  if (!points.length) return figure;
  const w = 320, h = 140, pad = 28;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const sx = (x) => pad + ((x - x0) / Math.max(1, x1 - x0)) * (w - 2 * pad);
  const sy = (y) => h - pad - ((y - y0) / (y1 - y0)) * (h - 2 * pad);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${name}: last value ${ys[ys.length - 1].toPrecision(4)} at step ${xs[xs.length - 1]}`);
  const path = document.createElementNS(SVG, "polyline");
  path.setAttribute("points", points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" "));
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.5");
  svg.append(path);
  for (const [text, x, y] of [[y1.toPrecision(3), 2, pad], [y0.toPrecision(3), 2, h - pad],
    [`step ${x1}`, w - pad - 40, h - 6]]) {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("font-size", "10");
    t.textContent = text;
    svg.append(t);
  }
  figure.append(svg);
  return figure;
}

function initJob(root) {
  const jid = root.dataset.jobId;
  const series = new Map();
  let lastStep = -1;
  let done = false;
  const cancel = document.getElementById("job-cancel");
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try { await api("POST", `/jobs/${jid}/cancel`); } catch (err) {
      notice(document.getElementById("job-error"), "error", err.message);
      document.getElementById("job-error").hidden = false;
    }
  });
  async function tick() {
    const job = await api("GET", `/jobs/${jid}`);
    document.getElementById("job-status").textContent = job.cancel_requested && job.status === "running" ? "stopping…" : job.status;
    const bar = document.getElementById("job-progress");
    bar.max = job.progress.total || 1;
    bar.value = job.progress.step || 0;
    document.getElementById("job-step").textContent = fmtProgress(job.progress);
    document.getElementById("job-command").textContent = job.result.command || "–";
    document.getElementById("job-log").textContent = job.log_tail || "–";
    document.getElementById("job-result").textContent = Object.keys(job.result).length ? JSON.stringify(job.result, null, 2) : "–";
    const error = document.getElementById("job-error");
    error.hidden = !job.error;
    if (job.error) error.textContent = job.error;
    cancel.hidden = !["queued", "running"].includes(job.status);
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
    document.getElementById("job-curves").replaceChildren(...names.map((n) => curve(n, series.get(n))));
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
