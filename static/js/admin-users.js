import { api, el, fmtDate, notice } from "./api.js";

const tbody = document.querySelector("#users-table tbody");
const status = document.getElementById("users-status");
const createForm = document.getElementById("create-user");
const createStatus = document.getElementById("cu-status");
const tokens = document.getElementById("tokens");
const tokenList = document.getElementById("token-list");
const tokenForm = document.getElementById("token-form");
const tokenStatus = document.getElementById("token-status");
let tokenUser = null;

function secret(label, value) {
  return el("div", {}, el("div", {}, label), el("div", { class: "secret", tabindex: "0" }, value),
    el("div", { class: "small muted" }, "Copy it now: it is not shown again."));
}

function showSecret(target, label, value) {
  target.className = "notice ok";
  target.replaceChildren(secret(label, value));
}

async function patch(user, body, done) {
  try {
    await api("PATCH", `/users/${encodeURIComponent(user.id)}`, body);
    notice(status, "ok", done);
    await load();
  } catch (err) {
    notice(status, "error", err.message);
    await load();
  }
}

function row(u) {
  const role = el("select", { "aria-label": `Role of ${u.display_name}` },
    ...["labeler", "reviewer", "engineer", "admin"].map((r) => new Option(r, r, false, r === u.role)));
  role.addEventListener("change", () => patch(u, { role: role.value }, `${u.display_name} is now ${role.value}; their sessions were ended.`));
  const activeBtn = el("button", { type: "button", class: u.is_active ? "small danger" : "small" }, u.is_active ? "Deactivate" : "Reactivate");
  activeBtn.addEventListener("click", () => {
    if (u.is_active && !window.confirm(`Deactivate ${u.display_name}? They are logged out and cannot log in.`)) return;
    patch(u, { is_active: !u.is_active }, u.is_active ? `${u.display_name} is deactivated.` : `${u.display_name} can log in again.`);
  });
  const reset = el("button", { type: "button", class: "small" }, "Reset password");
  reset.addEventListener("click", async () => {
    if (!window.confirm(`Give ${u.display_name} a new generated password?`)) return;
    try {
      const { data } = await api("POST", `/users/${encodeURIComponent(u.id)}/password`);
      showSecret(status, `New password for ${u.email}:`, data.password);
    } catch (err) { notice(status, "error", err.message); }
  });
  const tok = el("button", { type: "button", class: "small" }, "API tokens");
  tok.addEventListener("click", () => openTokens(u));
  return el("tr", {},
    el("td", {}, u.display_name), el("td", {}, u.email), el("td", {}, role),
    el("td", {}, el("span", { class: u.is_active ? "badge ok" : "badge bad" }, u.is_active ? "active" : "deactivated")),
    el("td", { class: "row" }, activeBtn, reset, tok));
}

async function load() {
  try {
    const { data } = await api("GET", "/users");
    tbody.replaceChildren(...data.map(row));
  } catch (err) {
    notice(status, "error", err.message);
  }
}

async function openTokens(u) {
  tokenUser = u;
  tokens.hidden = false;
  document.getElementById("tokens-title").textContent = `API tokens of ${u.display_name}`;
  notice(tokenStatus, "", "");
  await loadTokens();
  document.getElementById("token-name").focus();
}

async function loadTokens() {
  try {
    const { data } = await api("GET", `/users/${encodeURIComponent(tokenUser.id)}/tokens`);
    tokenList.replaceChildren(data.length ? el("table", { class: "data" },
      el("thead", {}, el("tr", {}, ...["Name", "Created", "Last used", "Status", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, data.map((t) => {
        const revoke = t.revoked_at ? "" : el("button", { type: "button", class: "small danger" }, "Revoke");
        if (revoke) revoke.addEventListener("click", async () => {
          try { await api("DELETE", `/tokens/${encodeURIComponent(t.id)}`); notice(tokenStatus, "ok", `Token "${t.name}" revoked.`); await loadTokens(); } catch (err) { notice(tokenStatus, "error", err.message); }
        });
        return el("tr", {}, el("td", {}, t.name), el("td", {}, fmtDate(t.created_at)), el("td", {}, t.last_used_at ? fmtDate(t.last_used_at) : "never"),
          el("td", {}, t.revoked_at ? "revoked" : "active"), el("td", {}, revoke));
      }))) : el("p", { class: "muted" }, "No tokens yet."));
  } catch (err) {
    notice(tokenStatus, "error", err.message);
  }
}

tokenForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = document.getElementById("token-name").value.trim();
  if (!name) { notice(tokenStatus, "error", "Give the token a name, e.g. the script that will use it."); return; }
  try {
    const { data } = await api("POST", `/users/${encodeURIComponent(tokenUser.id)}/tokens`, { name });
    showSecret(tokenStatus, `Token "${data.name}":`, data.token);
    document.getElementById("token-name").value = "";
    await loadTokens();
  } catch (err) { notice(tokenStatus, "error", err.message); }
});

createForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = (n) => createForm.querySelector(`[name=${n}]`).value.trim();
  const body = { email: f("email"), display_name: f("display_name"), role: f("role") };
  if (!body.email) { notice(createStatus, "error", "Enter the new user's e-mail."); return; }
  const pw = createForm.querySelector("[name=password]").value;
  if (pw) body.password = pw;
  try {
    const { data } = await api("POST", "/users", body);
    if (data.password) showSecret(createStatus, `${data.user.email} was added. Their password:`, data.password);
    else notice(createStatus, "ok", `${data.user.email} was added with the password you chose.`);
    createForm.reset();
    await load();
  } catch (err) {
    notice(createStatus, "error", err.message);
  }
});

load();
