// Exports page: every option of an export, run as a job and watched; the history with
// counts and checksums, downloads, side-by-side comparison, "train from this export".
import { apiData as api, el, fmtDate, notice } from "./api.js";

const form = document.getElementById("export-form");
const status = document.getElementById("export-status");
const bar = document.getElementById("export-progress");
let projects = new Map();

function records(e) {
  return Object.entries(e.files || {}).filter(([, f]) => f.records).map(([name, f]) => `${name.replace(".jsonl", "")}: ${f.records}`).join(", ");
}

function checked(name, root = form) {
  return [...root.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
}

function utc(value) {
  return value ? `${value.length === 16 ? `${value}:00` : value}Z` : null;
}

function options() {
  const d = new FormData(form);
  const filters = { exclude_rejected: form.elements.exclude_rejected.checked, include_gold: form.elements.include_gold.checked };
  const kinds = checked("kinds"); if (kinds.length) filters.kinds = kinds;
  const review = checked("review_status"); if (review.length) filters.review_status = review;
  for (const key of ["since", "until"]) if (d.get(key)) filters[key] = utc(d.get(key));
  const models = String(d.get("models") || "").split(",").map((s) => s.trim()).filter(Boolean);
  if (models.length) filters.models = models;
  const labelers = [...form.elements.labelers.selectedOptions].map((o) => o.value);
  if (labelers.length) filters.labelers = labelers;
  for (const key of ["min_agreement", "min_gold_accuracy"]) if (d.get(key)) filters[key] = Number(d.get(key));
  const out = { filters, split: { validation_fraction: Number(d.get("validation_fraction")), seed: Number(d.get("seed")) },
    formats: checked("formats") };
  if (d.get("aggregate")) out.aggregate = d.get("aggregate");
  if (d.get("margin_scale") === "custom") {
    out.margin_mapping = {};
    for (const input of form.querySelectorAll("[data-margin] input")) out.margin_mapping[input.name.slice(7)] = Number(input.value);
  } else if (d.get("margin_scale")) out.margin_scale = d.get("margin_scale");
  return out;
}

async function loadMembers() {
  const select = form.elements.labelers;
  select.replaceChildren();
  const pid = form.elements.project_id.value;
  if (!pid) return;
  const members = await api("GET", `/projects/${pid}/members`);
  select.append(...members.map((m) => el("option", { value: m.id }, `${m.display_name || m.email} (${m.role})`)));
}

async function loadHistory() {
  const body = document.querySelector("#exports-table tbody");
  const { items } = await api("GET", "/exports?limit=100");
  body.replaceChildren(...(items.length ? items.map((e) => el("tr", { "data-export": e.id },
    el("td", {}, el("input", { type: "checkbox", name: "compare", value: e.id, "aria-label": `compare ${e.id}` })),
    el("td", {}, el("div", {}, el("code", {}, e.id)), el("small", { class: "muted" }, fmtDate(e.created_at))),
    el("td", {}, projects.get(e.project)?.name || e.project),
    el("td", {}, e.status, e.error ? el("div", { class: "small" }, e.error) : ""),
    el("td", {}, records(e) || "–"),
    el("td", {}, e.manifest_sha256 ? el("code", { title: e.manifest_sha256 }, `${e.manifest_sha256.slice(0, 12)}…`) : "–"),
    el("td", {}, ...(e.status === "succeeded" ? [
      el("a", { href: e.downloads.zip }, "zip"), " · ", el("a", { href: e.downloads["tar.gz"] }, "tar.gz"), " · ",
      el("a", { href: `/admin/training?export=${e.id}` }, "train from this")] : ["–"]))))
    : [el("tr", {}, el("td", { colspan: "7", class: "muted" }, "No exports yet."))]));
}

async function compare() {
  const [a, b] = checked("compare", document);
  const out = document.getElementById("compare-out");
  const c = await api("GET", `/exports/${a}/compare/${b}`);
  out.replaceChildren(el("h3", {}, `${c.export} compared with ${c.other}`),
    el("div", { class: "table-wrap" }, el("table", { class: "data", id: "compare-table" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "File"), el("th", { scope: "col" }, c.export),
        el("th", { scope: "col" }, c.other), el("th", { scope: "col" }, "Difference"), el("th", { scope: "col" }, "Same content"))),
      el("tbody", {}, ...Object.entries(c.counts).map(([name, n]) => el("tr", {},
        el("td", {}, name), el("td", {}, String(n.this)), el("td", {}, String(n.other)),
        el("td", {}, n.delta > 0 ? `+${n.delta}` : String(n.delta)),
        el("td", {}, c.files[`${name}.jsonl`]?.same ? "yes" : "no")))))));
}

async function watch(jobId) {
  bar.hidden = false;
  for (;;) {
    const job = await api("GET", `/jobs/${jobId}`);
    bar.max = job.progress.total || 1;
    bar.value = job.progress.step || 0;
    notice(status, job.status === "failed" ? "error" : "", `Export job ${job.id}: ${job.status}${job.progress.total ? ` · ${job.progress.step}/${job.progress.total} records` : ""}${job.error ? ` · ${job.error}` : ""}`);
    if (!["queued", "running"].includes(job.status)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  bar.hidden = true;
  await loadHistory();
}

form.elements.margin_scale.addEventListener("change", () => {
  const custom = form.elements.margin_scale.value === "custom";
  for (const label of form.querySelectorAll("[data-margin]")) {
    label.hidden = !custom;
    label.querySelector("input").required = custom;
  }
});
form.elements.project_id.addEventListener("change", () => loadMembers().catch((e) => notice(status, "error", e.message)));
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const job = await api("POST", "/jobs", { kind: "export", params: { project_id: form.elements.project_id.value, options: options() } });
    await watch(job.id);
  } catch (err) {
    notice(status, "error", err.message);
  }
});
document.getElementById("exports-table").addEventListener("change", () => {
  document.getElementById("compare-button").disabled = checked("compare", document).length !== 2;
});
document.getElementById("compare-button").addEventListener("click", () => compare().catch((e) => notice(status, "error", e.message)));

(async () => {
  try {
    const list = await api("GET", "/projects");
    projects = new Map(list.map((p) => [p.id, p]));
    form.elements.project_id.replaceChildren(el("option", { value: "" }, "Choose a project"),
      ...list.map((p) => el("option", { value: p.id }, `${p.name} (${p.task_kind})`)));
    await loadHistory();
  } catch (err) {
    notice(status, "error", err.message);
  }
})();
