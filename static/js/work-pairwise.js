import { el, renderMarkdown } from "./api.js";
import { isTyping, startWork } from "./work.js";

const promptBox = document.getElementById("prompt");
const boxes = { a: document.getElementById("answer-a"), b: document.getElementById("answer-b") };
const safetyBoxes = { a: document.getElementById("safety-a"), b: document.getElementById("safety-b") };
const buttons = [...document.querySelectorAll("#scale [data-choice]")];
const bothBad = document.getElementById("both-bad");
const badReason = document.getElementById("bad-reason");
let ctxRef = null;
let ids = { a: null, b: null };
let choice = null; // "a:better" | "both_bad" | null
let safetyWanted = false;

function setChoice(value) {
  choice = value;
  for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.choice === value));
  bothBad.setAttribute("aria-pressed", String(value === "both_bad"));
  badReason.disabled = value !== "both_bad";
  if (ctxRef) ctxRef.saveDraft();
}

for (const b of buttons) b.addEventListener("click", () => setChoice(b.dataset.choice));
bothBad.addEventListener("click", () => {
  setChoice(choice === "both_bad" ? null : "both_bad");
  if (choice === "both_bad") badReason.focus();
});

document.addEventListener("keydown", (e) => {
  if (!ctxRef || !ctxRef.task || isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key >= "1" && e.key <= "8") {
    e.preventDefault();
    const b = buttons[Number(e.key) - 1];
    setChoice(b.dataset.choice);
    b.focus();
  } else if (e.key === "0") {
    e.preventDefault();
    setChoice("both_bad");
    bothBad.focus();
  } else if (e.key === "Enter" && !(e.target instanceof HTMLButtonElement || e.target instanceof HTMLAnchorElement)) {
    e.preventDefault();
    ctxRef.submit();
  }
});

function safetyControl(side, value) {
  const name = `safety-${side}`;
  const opt = (v, text) => el("label", { class: "check" },
    el("input", { type: "radio", name, value: v, checked: value === v ? true : null }), text);
  return el("fieldset", {},
    el("legend", { class: "small" }, `Is answer ${side.toUpperCase()} safe?`),
    opt("safe", "Safe"), opt("unsafe", "Unsafe"));
}

function safetyValue(side) {
  const checked = document.querySelector(`input[name="safety-${side}"]:checked`);
  return checked ? checked.value : null;
}

startWork({
  async render(task, ctx, draft) {
    ctxRef = ctx;
    const [a, b] = task.completions || [];
    ids = { a: a.id, b: b.id };
    const messages = (task.prompt && task.prompt.messages) || [];
    const html = await renderMarkdown([...messages.map((m) => m.content), a.content, b.content]);
    promptBox.replaceChildren(...messages.map((m, i) => el("div", { class: `message ${m.role}` },
      el("div", { class: "role" }, m.role), el("div", { class: "md", html: html[i] }))));
    boxes.a.innerHTML = html[messages.length];
    boxes.b.innerHTML = html[messages.length + 1];
    safetyWanted = Boolean(task.project && task.project.safety_labels);
    for (const side of ["a", "b"]) {
      safetyBoxes[side].hidden = !safetyWanted;
      safetyBoxes[side].replaceChildren(safetyWanted ? safetyControl(side, draft && draft.safety && draft.safety[side]) : "");
    }
    badReason.value = (draft && draft.reason) || "";
    setChoice((draft && draft.choice) || null);
  },
  draftData: () => ({ choice, reason: badReason.value, safety: { a: safetyValue("a"), b: safetyValue("b") } }),
  validate() {
    if (!choice) return "Pick which answer is better (keys 1–8), or mark both as bad (0).";
    if (choice !== "both_bad" && safetyWanted && (!safetyValue("a") || !safetyValue("b"))) {
      return "This project asks for a safety label on both answers: mark each one safe or unsafe.";
    }
    return null;
  },
  collect() {
    if (choice === "both_bad") {
      const reason = badReason.value.trim();
      return reason ? { verdict: "both_bad", reason } : { verdict: "both_bad" };
    }
    const [side, margin] = choice.split(":");
    const body = { verdict: "preferred", preferred: ids[side], margin_label: margin };
    if (safetyWanted) body.safety = { [ids.a]: safetyValue("a"), [ids.b]: safetyValue("b") };
    return body;
  },
});
