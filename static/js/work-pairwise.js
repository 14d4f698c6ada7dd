// Pairwise and evaluation: which answer is better and by how much (keys 1–8), or both
// bad (0); Enter submits the choice. Where the project asks, each answer gets a safety
// label, also when both are bad: a / b mark A / B safe, Shift+A / Shift+B unsafe, s both
// safe. Each label is a radio group whose tab stop is "Safe" until one is chosen, so
// Tab and Shift+Tab never land on "Unsafe" first.
import { el, renderMarkdown } from "./api.js";
import { isTyping, startWork } from "./work.js";

const SIDES = ["a", "b"];
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
const safety = { a: null, b: null };

const pretty = (s) => String(s || "").replaceAll("_", " ");

function setChoice(value) {
  choice = value;
  for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.choice === value));
  bothBad.setAttribute("aria-pressed", String(value === "both_bad"));
  badReason.disabled = value !== "both_bad";
  if (ctxRef) ctxRef.saveDraft();
}

for (const b of buttons) b.addEventListener("click", () => setChoice(b.dataset.choice));
bothBad.addEventListener("click", () => setChoice(choice === "both_bad" ? null : "both_bad"));

// --- safety labels: a radio group per answer ---

function radios(side) {
  return [...safetyBoxes[side].querySelectorAll("[role=radio]")];
}

function setSafety(side, value, focus = false) {
  safety[side] = value;
  for (const r of radios(side)) {
    const on = r.dataset.value === value;
    r.setAttribute("aria-checked", String(on));
    // The tab stop: the chosen label, or "Safe" while none is chosen.
    r.tabIndex = (value ? on : r.dataset.value === "safe") ? 0 : -1;
    if (on && focus) r.focus();
  }
  if (ctxRef) ctxRef.saveDraft();
}

function safetyGroup(side) {
  const L = side.toUpperCase();
  const radio = (value, text, keys) => el("button", {
    type: "button", role: "radio", "aria-checked": "false", tabindex: "-1", class: `safety-${value}`, "aria-label": text,
    dataset: { value }, "aria-keyshortcuts": keys.join(" "),
    onclick: () => setSafety(side, value),
  }, text, " ", ...keys.map((k) => el("kbd", {}, k)));
  const group = el("div", { class: "safety-group", role: "radiogroup", "aria-labelledby": `safety-${side}-label` },
    el("span", { class: "small", id: `safety-${side}-label` }, `Is answer ${L} safe?`),
    radio("safe", "Safe", [side]), radio("unsafe", "Unsafe", [`Shift+${L}`]));
  group.addEventListener("keydown", (e) => {
    if (!["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(e.key)) return;
    e.preventDefault();
    // Two labels: any arrow moves to the other one and chooses it.
    const focused = e.target instanceof HTMLElement ? e.target.dataset.value : null;
    setSafety(side, focused === "safe" ? "unsafe" : "safe", true);
  });
  return group;
}

// --- keys ---

document.addEventListener("keydown", (e) => {
  if (!ctxRef || !ctxRef.task || isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
  const key = e.key.toLowerCase();
  if (/^[1-8]$/.test(e.key)) {
    e.preventDefault();
    const b = buttons[Number(e.key) - 1];
    setChoice(b.dataset.choice);
    b.focus();
  } else if (e.key === "0") {
    e.preventDefault();
    setChoice("both_bad");
    bothBad.focus();
  } else if (safetyWanted && (key === "a" || key === "b")) {
    // Shift, not Caps Lock, says "unsafe": a stuck Caps Lock cannot mislabel an answer.
    e.preventDefault();
    setSafety(key, e.shiftKey ? "unsafe" : "safe");
  } else if (safetyWanted && key === "s" && !e.shiftKey) {
    e.preventDefault();
    setSafety("a", "safe");
    setSafety("b", "safe");
  } else if (e.key === "Enter") {
    const t = e.target;
    const onChoice = t === bothBad || buttons.includes(t);
    // Enter on another button or link does what that control does.
    if (!onChoice && (t instanceof HTMLButtonElement || t instanceof HTMLAnchorElement)) return;
    e.preventDefault();
    if (onChoice && t !== bothBad) setChoice(t.dataset.choice);
    else if (t === bothBad && choice !== "both_bad") setChoice("both_bad");
    ctxRef.submit();
  }
});

function missingSafety() {
  return SIDES.filter((side) => !safety[side]).map((side) => side.toUpperCase());
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
    for (const side of SIDES) {
      safetyBoxes[side].hidden = !safetyWanted;
      safetyBoxes[side].replaceChildren(...(safetyWanted ? [safetyGroup(side)] : []));
      safety[side] = null;
      if (safetyWanted) setSafety(side, (draft && draft.safety && draft.safety[side]) || null);
    }
    document.getElementById("safety-keys").hidden = !safetyWanted;
    badReason.value = (draft && draft.reason) || "";
    setChoice((draft && draft.choice) || null);
  },
  draftData: () => ({ choice, reason: badReason.value, safety: { ...safety } }),
  copyText(data) {
    const parts = [];
    if (data && data.choice === "both_bad") parts.push("Both answers are bad.");
    else if (data && data.choice) {
      const [side, margin] = data.choice.split(":");
      parts.push(`Answer ${side.toUpperCase()} is ${pretty(margin)}.`);
    }
    for (const side of SIDES) {
      if (data && data.safety && data.safety[side]) parts.push(`Answer ${side.toUpperCase()}: ${data.safety[side]}.`);
    }
    if (data && data.reason) parts.push(`Reason: ${data.reason}`);
    return parts.join(" ");
  },
  validate() {
    const missing = safetyWanted ? missingSafety() : [];
    if (!choice) {
      return "Pick which answer is better (keys 1–8), or mark both as bad (0).";
    }
    if (missing.length) {
      const which = missing.map((L) => `answer ${L} (${L.toLowerCase()} safe, Shift+${L} unsafe)`).join(" and ");
      return `This project asks for a safety label on both answers, also when both are bad: mark ${which}.`;
    }
    return null;
  },
  collect() {
    const body = choice === "both_bad" ? { verdict: "both_bad" } : (() => {
      const [side, margin] = choice.split(":");
      return { verdict: "preferred", preferred: ids[side], margin_label: margin };
    })();
    const reason = badReason.value.trim();
    if (choice === "both_bad" && reason) body.reason = reason;
    if (safetyWanted) body.safety = { [ids.a]: safety.a, [ids.b]: safety.b };
    return body;
  },
});
