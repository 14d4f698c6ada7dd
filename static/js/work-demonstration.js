import { api, el, notice, renderMarkdown } from "./api.js";
import { startWork } from "./work.js";

const conversation = document.getElementById("conversation");
const turnsBox = document.getElementById("turns");
const addBtn = document.getElementById("add-turn");
const suggestBtn = document.getElementById("suggest");
const suggestStatus = document.getElementById("suggest-status");
let ctxRef = null;

function roleName(role) {
  return { user: "User", assistant: "Assistant", system: "System" }[role] || role;
}

// turns[0] is always the assistant reply; further turns come in (user, assistant)
// pairs so the list alternates and ends with the assistant, as the API requires.
function turnEditor(role, index, content) {
  const id = `turn-${index}`;
  const removable = index > 0 && role === "user";
  const box = el("div", { class: `turn ${role}`, dataset: { role } },
    el("div", { class: "row" },
      el("label", { for: id }, index === 0 ? "Assistant reply" : `${roleName(role)} (turn ${index + 1})`),
      el("span", { class: "spacer" }),
      removable ? el("button", {
        type: "button", class: "small danger", "aria-label": `Remove turns ${index + 1} and ${index + 2}`,
        onclick: () => { removePair(index); },
      }, "Remove this exchange") : null),
    el("textarea", { id, rows: index === 0 ? 12 : 6, maxlength: 32000, "data-autofocus": index === 0 ? true : null }));
  box.querySelector("textarea").value = content || "";
  return box;
}

function readTurns() {
  return [...turnsBox.querySelectorAll(".turn")].map((t) => ({
    role: t.dataset.role, content: t.querySelector("textarea").value,
  }));
}

function drawTurns(turns) {
  turnsBox.replaceChildren(...turns.map((t, i) => turnEditor(t.role, i, t.content)));
}

function removePair(index) {
  const turns = readTurns();
  turns.splice(index, 2);
  drawTurns(turns);
  ctxRef.saveDraft();
  const last = turnsBox.querySelectorAll("textarea");
  if (last.length) last[last.length - 1].focus();
}

addBtn.addEventListener("click", () => {
  const turns = readTurns();
  turns.push({ role: "user", content: "" }, { role: "assistant", content: "" });
  drawTurns(turns);
  ctxRef.saveDraft();
  turnsBox.querySelectorAll("textarea")[turns.length - 2].focus();
});

// Suggest: an endpoint sampler answers at once (200); a local model answers 202
// with a job the worker runs, polled here until the draft is written.
const SUGGEST_POLL_MS = 1000;
const SUGGEST_GIVE_UP_MS = 5 * 60 * 1000;
const SUGGEST_STAGES = { loading: "loading the model", generating: "writing" };

function suggestContext() {
  // The turns before the last assistant reply: the draft answers the user's last turn.
  const turns = readTurns();
  return turns.slice(0, -1);
}

async function waitForDraft(task, first) {
  const started = Date.now();
  let state = first;
  const path = `/assignments/${encodeURIComponent(task.assignment_id)}/suggest/${encodeURIComponent(first.job_id)}`;
  while (state.status === "queued" || state.status === "running") {
    const seconds = Math.round((Date.now() - started) / 1000);
    const doing = state.status === "queued"
      ? "waiting for a worker"
      : (SUGGEST_STAGES[state.progress && state.progress.stage] || "working");
    notice(suggestStatus, "info", `The model is ${doing}… (${seconds} s)`);
    if (Date.now() - started > SUGGEST_GIVE_UP_MS) throw new Error("The draft is taking too long; write the reply yourself.");
    await new Promise((resolve) => setTimeout(resolve, SUGGEST_POLL_MS));
    if (!ctxRef.task || ctxRef.task.assignment_id !== task.assignment_id) return null;
    ({ data: state } = await api("GET", path));
  }
  if (state.status !== "succeeded") throw new Error(state.error || "The model could not write a draft; write the reply yourself.");
  return state.content || "";
}

suggestBtn.addEventListener("click", async () => {
  const task = ctxRef.task;
  if (!task) return;
  suggestBtn.disabled = true;
  notice(suggestStatus, "info", "Asking the model for a draft…");
  try {
    const { status, data } = await api("POST", `/assignments/${encodeURIComponent(task.assignment_id)}/suggest`,
      { turns: suggestContext() });
    const content = status === 202 ? await waitForDraft(task, data) : (data.content || "");
    if (content === null) return; // the task changed while the draft was being written
    const areas = turnsBox.querySelectorAll(".turn[data-role='assistant'] textarea");
    const target = areas[areas.length - 1];
    if (target.value.trim() && !window.confirm("Replace your reply with the model's draft?")) {
      notice(suggestStatus, "", "");
      return;
    }
    target.value = content;
    ctxRef.saveDraft();
    notice(suggestStatus, "ok", "The model's draft is in the reply box; edit it before submitting.");
    target.focus();
  } catch (err) {
    const text = err.status === 501 || err.status === 409 || err.status === 404
      ? `No suggestion available: ${err.message}`
      : err.message;
    notice(suggestStatus, "warn", text);
  } finally {
    suggestBtn.disabled = false;
  }
});

const asText = (turns) => (turns.length === 1
  ? turns[0].content
  : turns.map((t) => `${roleName(t.role)}: ${t.content}`).join("\n\n"));

// A single-reply project takes one turn: a kept multi-turn answer arrives as one text to
// edit rather than losing its later turns.
function fitTurns(turns) {
  if (multi || turns.length <= 1) return turns;
  return [{ role: "assistant", content: asText(turns) }];
}

let multi = false;
let candidate = null;

// AI-written candidates (Constitutional AI revisions): accept one as it is, edit it in the
// reply box, or reject them and write the reply yourself.
function drawCandidates(task) {
  const box = document.getElementById("candidates");
  const shown = task.completions || [];
  candidate = null;
  box.hidden = !shown.length;
  box.replaceChildren(...(shown.length ? [el("h2", {}, "AI-written candidates")] : []), ...shown.map((c, i) => {
    const name = `candidate ${i + 1}`;
    const card = el("article", { class: "panel candidate", "aria-label": `AI-written ${name}` },
      el("p", { class: "small muted" }, "Written by a model, critiqued and revised against a principle. Check it as you would your own reply."),
      el("div", { class: "md" }, c.content),
      el("div", { class: "actions" },
        el("button", { type: "button", onclick: () => {
          drawTurns([{ role: "assistant", content: c.content }]);
          candidate = c.id;
          ctxRef.saveDraft();
          notice(suggestStatus, "ok", `The ${name} is in the reply box: submit it as it is, or edit it first.`);
        } }, `Use ${name}`),
        el("button", { type: "button", class: "danger", onclick: () => {
          card.remove();
          if (candidate === c.id) candidate = null;
          if (!box.querySelector(".candidate")) box.hidden = true;
        } }, `Reject ${name}`)));
    return card;
  }));
}

startWork({
  async render(task, ctx, draft) {
    ctxRef = ctx;
    notice(suggestStatus, "", "");
    const messages = (task.prompt && task.prompt.messages) || [];
    const html = await renderMarkdown(messages.map((m) => m.content));
    conversation.replaceChildren(...messages.map((m, i) => el("div", { class: `message ${m.role}` },
      el("div", { class: "role" }, roleName(m.role)),
      el("div", { class: "md", html: html[i] }))));
    multi = Boolean(task.project && task.project.multi_turn);
    addBtn.hidden = !multi;
    drawCandidates(task);
    const turns = (draft && Array.isArray(draft.turns) && draft.turns.length) ? draft.turns : [{ role: "assistant", content: "" }];
    drawTurns(fitTurns(turns));
  },
  draftData: () => ({ turns: readTurns() }),
  copyText: (data) => asText((data && data.turns) || []),
  reuse(data) {
    if (data && Array.isArray(data.turns) && data.turns.length) drawTurns(fitTurns(data.turns));
  },
  validate() {
    const turns = readTurns();
    const blank = turns.findIndex((t) => !t.content.trim());
    if (blank === 0) return "Write the assistant reply before submitting.";
    if (blank > 0) return `Turn ${blank + 1} (${roleName(turns[blank].role)}) is empty: write it or remove that exchange.`;
    return null;
  },
  collect: () => (candidate ? { turns: readTurns(), candidate } : { turns: readTurns() }),
});
