// Projects admin: list, create, edit every setting with a live guidelines
// preview, and choose the project's labelers.
import { api, el, notice, renderMarkdown } from "./api.js";

const KIND_NAMES = {
  prompt_writing: "Prompt writing", demonstration: "Demonstration", ranking: "Ranking",
  pairwise: "Pairwise", evaluation: "Evaluation",
};
const lines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);

function wirePreview(form) {
  const source = form.querySelector("[name=guidelines]");
  const preview = form.querySelector("#pf-preview");
  let timer = null;
  let seq = 0;
  const update = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++seq;
      try {
        const [html] = await renderMarkdown([source.value]);
        if (mine === seq) preview.innerHTML = html || "<p class=\"muted\">Nothing to preview yet.</p>";
      } catch (err) {
        if (mine === seq) preview.textContent = `Preview unavailable: ${err.message}`;
      }
    }, 200);
  };
  source.addEventListener("input", update);
  update();
}

function readForm(form, editing) {
  const v = (name) => form.querySelector(`[name=${name}]`);
  const num = (name) => Number(v(name).value);
  const body = {
    name: v("name").value.trim(),
    guidelines: v("guidelines").value,
    k_min: num("k_min"),
    k_max: num("k_max"),
    overlap: num("overlap"),
    lease_seconds: num("lease_seconds"),
    prompts_per_category: num("prompts_per_category"),
    margin_scale: v("margin_scale").value,
    queue_order: v("queue_order").value,
    safety_labels: v("safety_labels").checked,
    multi_turn: v("multi_turn").checked,
    flags: lines(v("flags").value),
    categories: lines(v("categories").value),
    sampling: { temperature: num("temperature"), top_p: num("top_p"), max_tokens: num("max_tokens") },
  };
  const sampler = v("sampler_model_id").value.trim();
  if (sampler) body.sampler_model_id = sampler;
  if (!editing) {
    body.task_kind = v("task_kind").value;
    const slug = v("slug").value.trim();
    if (slug) body.slug = slug;
  }
  return body;
}

function fillForm(form, p) {
  const set = (name, value) => { const n = form.querySelector(`[name=${name}]`); if (n && value !== undefined && value !== null) n.value = value; };
  for (const k of ["name", "guidelines", "k_min", "k_max", "overlap", "lease_seconds", "prompts_per_category", "margin_scale", "queue_order", "task_kind", "sampler_model_id"]) set(k, p[k]);
  form.querySelector("[name=safety_labels]").checked = Boolean(p.safety_labels);
  form.querySelector("[name=multi_turn]").checked = Boolean(p.multi_turn);
  set("flags", (p.flags || []).join("\n"));
  set("categories", (p.categories || []).join("\n"));
  const s = p.sampling || {};
  set("temperature", s.temperature); set("top_p", s.top_p); set("max_tokens", s.max_tokens);
}

function problem(body) {
  if (!body.name) return "Give the project a name.";
  if (body.k_min > body.k_max) return "K min must not be larger than K max.";
  return null;
}

function errorText(err) {
  const extra = (err.body && err.body.errors) || [];
  const fields = extra.filter((e) => e.field).map((e) => `${e.field}: ${e.message}`);
  return fields.length > 1 ? `${err.message} (${fields.slice(1).join("; ")})` : err.message;
}

async function listPage() {
  const table = document.querySelector("#project-table tbody");
  const create = document.getElementById("create");
  const toggle = document.getElementById("new-project");
  const status = document.getElementById("form-status");
  toggle.addEventListener("click", () => {
    create.hidden = !create.hidden;
    toggle.setAttribute("aria-expanded", String(!create.hidden));
    if (!create.hidden) create.querySelector("[name=name]").focus();
  });
  // Defaults for a new project come from the server's own defaults.
  create.querySelector("[name=flags]").value = ["fails_to_follow_instruction", "hallucination", "inappropriate_for_customer_assistant", "sexual_content", "violent_content", "harmful_advice", "denigrates_protected_class", "expresses_opinion"].join("\n");
  create.querySelector("[name=categories]").value = ["generation", "open_qa", "brainstorming", "chat", "rewrite", "summarization", "classification", "closed_qa", "extraction", "other"].join("\n");
  wirePreview(create);
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = readForm(create, false);
    const bad = problem(body);
    if (bad) { notice(status, "error", bad); return; }
    try {
      const { data } = await api("POST", "/projects", body);
      notice(status, "ok", "Created.");
      window.location.href = `/admin/projects/${encodeURIComponent(data.id)}`;
    } catch (err) {
      notice(status, "error", errorText(err));
    }
  });
  try {
    const { data } = await api("GET", "/projects");
    if (!data.length) {
      table.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No projects yet: create the first one.")));
      return;
    }
    table.replaceChildren(...data.map((p) => {
      const base = `/admin/projects/${encodeURIComponent(p.id)}`;
      return el("tr", {},
        el("td", {}, el("a", { href: base }, p.name)),
        el("td", {}, KIND_NAMES[p.task_kind] || p.task_kind),
        el("td", {}, String(p.overlap)),
        el("td", {}, el("span", { class: p.archived ? "badge" : "badge ok" }, p.archived ? "archived" : "active")),
        el("td", { class: "row" },
          el("a", { href: `${base}/import` }, "Import"),
          el("a", { href: `${base}/progress` }, "Progress"),
          el("a", { href: `${base}/judgements` }, "Judgements")));
    }));
  } catch (err) {
    notice(document.getElementById("list-status"), "error", err.message);
  }
}

async function editPage(form) {
  const pid = form.dataset.project;
  const status = document.getElementById("form-status");
  try {
    const { data } = await api("GET", `/projects/${encodeURIComponent(pid)}`);
    fillForm(form, data);
  } catch (err) {
    notice(status, "error", err.message);
  }
  wirePreview(form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = readForm(form, true);
    const bad = problem(body);
    if (bad) { notice(status, "error", bad); return; }
    try {
      const { data } = await api("PATCH", `/projects/${encodeURIComponent(pid)}`, body);
      fillForm(form, data);
      notice(status, "ok", "Settings saved.");
    } catch (err) {
      notice(status, "error", errorText(err));
    }
  });
  await membersForm(pid);
}

async function membersForm(pid) {
  const form = document.getElementById("members");
  const list = document.getElementById("member-list");
  const status = document.getElementById("members-status");
  const filter = document.getElementById("member-filter");
  try {
    const [users, members] = await Promise.all([
      api("GET", "/users"), api("GET", `/projects/${encodeURIComponent(pid)}/members`),
    ]);
    const chosen = new Set(members.data.map((m) => m.id));
    const active = users.data.filter((u) => u.is_active !== false);
    list.replaceChildren(...(active.length ? active.map((u) => el("div", { dataset: { search: `${u.display_name} ${u.email}`.toLowerCase() } },
      el("label", { class: "check" }, el("input", { type: "checkbox", value: u.id, checked: chosen.has(u.id) ? true : null }),
        `${u.display_name} `, el("span", { class: "muted small" }, `${u.email} · ${u.role}`)))) : [el("p", { class: "muted" }, "No users yet.")]));
  } catch (err) {
    notice(status, "error", err.message);
  }
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    for (const row of list.children) row.hidden = Boolean(q) && !(row.dataset.search || "").includes(q);
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const ids = [...list.querySelectorAll("input:checked")].map((i) => i.value);
    try {
      const { data } = await api("PUT", `/projects/${encodeURIComponent(pid)}/members`, { user_ids: ids });
      notice(status, "ok", `Saved: ${data.length} ${data.length === 1 ? "person works" : "people work"} on this project.`);
    } catch (err) {
      notice(status, "error", err.message);
    }
  });
}

const editForm = document.getElementById("edit");
if (editForm) editPage(editForm); else listPage();
