// A project's AI labelers: attach one, edit its constitution, start a run and watch it,
// and see its agreement with the people.
import { api, el, fmtDate, notice } from "./api.js";
import { loadAgreement } from "./ai-agreement.js";

const root = document.getElementById("ai");
const pid = root.dataset.project;
const status = document.getElementById("ai-status");
const lines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);

async function watch(jobId, out, labelerId, agreementBox) {
  for (;;) {
    let job;
    try { job = (await api("GET", `/jobs/${encodeURIComponent(jobId)}`)).data; } catch (err) {
      notice(out, "error", err.message); return;
    }
    const p = job.progress || {};
    const link = el("a", { href: `/admin/training/${encodeURIComponent(jobId)}` }, "job details");
    if (["succeeded", "failed", "cancelled"].includes(job.status)) {
      const r = job.result || {};
      const said = job.status === "succeeded"
        ? `Run finished: ${r.judged} items judged with ${r.calls} model calls${r.no_verdict ? `, ${r.no_verdict} without a verdict` : ""}${r.budget_left_items ? `; ${r.budget_left_items} items wait for a larger budget` : ""}.`
        : `Run ${job.status}: ${job.error || ""}`;
      out.className = `notice ${job.status === "succeeded" ? "ok" : "error"}`;
      out.replaceChildren(said, " ", link);
      loadAgreement(agreementBox, labelerId);
      refreshCounts();
      return;
    }
    out.className = "notice info";
    out.replaceChildren(`Run ${job.status}${p.total ? `: ${p.step} of ${p.total} items` : ""}… `, link);
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

let counters = {};
async function refreshCounts() {
  const { data } = await api("GET", `/ai-labelers?project=${encodeURIComponent(pid)}`);
  for (const a of data.items) if (counters[a.id]) counters[a.id].textContent = String(a.judgements);
}

function card(a) {
  const count = el("b", {}, String(a.judgements));
  counters[a.id] = count;
  const runOut = el("p", { class: "notice", role: "status", "aria-live": "polite" });
  const agreementBox = el("div");
  const version = el("span", { class: "muted" }, `version ${a.constitution_version}`);
  const principles = el("textarea", { id: `c-${a.id}`, rows: "4" });
  principles.value = a.constitution.join("\n");
  const saveOut = el("span", { class: "notice", role: "status" });
  const items = el("input", { type: "number", id: `items-${a.id}`, min: "1", max: "100000", value: "200" });
  const calls = el("input", { type: "number", id: `calls-${a.id}`, min: "1", max: "1000000", value: "2000" });
  const options = [
    a.both_orders ? "both orders" : "one order",
    a.rationale ? "reasons first" : "verdict only",
    ...(root.dataset.kind === "ranking" ? [a.ranking_method] : []),
  ].join(" · ");
  const box = el("article", { class: "ai-card", "aria-label": `AI labeler ${a.name}` },
    el("h3", {}, a.name),
    el("p", { class: "small" }, `Judge ${a.model.name} (${a.model.kind}) · ${options} · `, count, " judgements · attached ",
      fmtDate(a.created_at)),
    el("form", { class: "grid3", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const { data } = await api("POST", `/ai-labelers/${encodeURIComponent(a.id)}/runs`,
          { max_items: Number(items.value), max_calls: Number(calls.value) });
        watch(data.id, runOut, a.id, agreementBox);
      } catch (err) { notice(runOut, "error", err.message); }
    } },
    el("div", { class: "field" }, el("label", { for: items.id }, "Items"), items),
    el("div", { class: "field" }, el("label", { for: calls.id }, "Budget in model calls"), calls),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, `Start a run of ${a.name}`))),
    runOut,
    el("div", { class: "field" }, el("label", { for: principles.id }, "Constitution, one principle a line "), version, principles),
    el("div", { class: "actions" }, el("button", { type: "button", onclick: async () => {
      try {
        const { data } = await api("PATCH", `/ai-labelers/${encodeURIComponent(a.id)}`, { constitution: lines(principles.value) });
        version.textContent = `version ${data.constitution_version}`;
        notice(saveOut, "ok", "Constitution saved.");
      } catch (err) { notice(saveOut, "error", err.message); }
    } }, "Save the constitution"), saveOut),
    el("h4", {}, "Agreement with the people"), agreementBox);
  loadAgreement(agreementBox, a.id);
  return box;
}

async function loadList() {
  const { data } = await api("GET", `/ai-labelers?project=${encodeURIComponent(pid)}`);
  counters = {};
  const list = document.getElementById("ai-list");
  list.replaceChildren(...(data.items.length ? data.items.map(card) : [el("p", { class: "muted" }, "No AI labeler yet.")]));
}

async function loadModels() {
  const { data } = await api("GET", "/models");
  const options = () => data.map((m) => el("option", { value: m.id }, `${m.name} (${m.kind})`));
  if (!data.length) notice(status, "info", "Register a model version on the Models page first.");
  if (root.dataset.kind === "demonstration") {
    document.getElementById("cai-model").replaceChildren(...options());
    return;
  }
  document.getElementById("ai-model").replaceChildren(...options());
  document.getElementById("score-model").replaceChildren(...data.filter((m) => m.kind === "local")
    .map((m) => el("option", { value: m.id }, m.name)));
}

function constitutionalPage() {
  document.getElementById("cai-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const out = document.getElementById("cai-status");
    try {
      const { data } = await api("POST", "/constitutional-runs", {
        project_id: pid, model_id: f.model_id.value, mode: f.mode.value,
        max_prompts: Number(f.max_prompts.value), principles: lines(f.principles.value),
      });
      out.className = "notice info";
      out.replaceChildren("The stage is queued: ", el("a", { href: `/admin/training/${encodeURIComponent(data.id)}` }, "follow the job"));
    } catch (err) { notice(out, "error", err.message); }
  });
}

if (root.dataset.kind === "demonstration") {
  constitutionalPage();
  loadModels().catch((err) => notice(status, "error", err.message));
} else {
  labelersPage();
}

function labelersPage() {
  document.getElementById("ai-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const body = {
      project_id: pid,
      model_id: f.model_id.value,
      both_orders: f.both_orders.checked,
      rationale: f.rationale.checked,
      max_tokens: Number(f.max_tokens.value),
      constitution: lines(f.constitution.value),
      template: f.template.value,
    };
    if (f.name.value.trim()) body.name = f.name.value.trim();
    if (f.ranking_method) body.ranking_method = f.ranking_method.value;
    try {
      const { data } = await api("POST", "/ai-labelers", body);
      notice(status, "ok", `${data.name} is attached.`);
      await loadList();
    } catch (err) { notice(status, "error", err.message); }
  });

  document.getElementById("score-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = document.getElementById("score-status");
    try {
      const { data } = await api("POST", "/uncertainty-scores", { project_id: pid, model_id: ev.target.model_id.value });
      out.className = "notice info";
      out.replaceChildren("Scoring queued: ", el("a", { href: `/admin/training/${encodeURIComponent(data.id)}` }, "follow the job"));
    } catch (err) { notice(out, "error", err.message); }
  });

  Promise.all([loadModels(), loadList()]).catch((err) => notice(status, "error", err.message));
}
