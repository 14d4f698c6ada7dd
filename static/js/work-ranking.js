// Ranking widget: order 4–9 answers best to worst, ties allowed, by keyboard
// (focus an answer, press its rank 1–9; equal numbers tie) or by dragging its
// letter onto a place. Ratings 1–7 (Shift+1–7 on a focused answer) and flags (f)
// per answer; long answers collapse; any two can be opened side by side.
import { el, renderMarkdown } from "./api.js";
import { startWork } from "./work.js";

const LETTERS = "ABCDEFGHI";
const LONG_CHARS = 600;
const promptBox = document.getElementById("prompt");
const cardsBox = document.getElementById("cards");
const orderBox = document.getElementById("order");
const unrankedBox = document.getElementById("unranked");
const compareBtn = document.getElementById("compare-open");
const compareView = document.getElementById("compare");
const compareCols = document.getElementById("compare-cols");
const nrReason = document.getElementById("nr-reason");
const nrSubmit = document.getElementById("nr-submit");

let ctxRef = null;
let comps = [];
let html = {};
let ranks = {};
let marked = [];
let compareReturn = null;

const letterOf = (cid) => LETTERS[comps.findIndex((c) => c.id === cid)];
const cardOf = (cid) => cardsBox.querySelector(`[data-cid="${CSS.escape(cid)}"]`);

function groups() {
  const byRank = new Map();
  for (const c of comps) {
    const r = ranks[c.id];
    if (!r) continue;
    if (!byRank.has(r)) byRank.set(r, []);
    byRank.get(r).push(c.id);
  }
  return [...byRank.entries()].sort((a, b) => a[0] - b[0]);
}

function setRank(cid, rank) {
  if (rank) ranks[cid] = rank; else delete ranks[cid];
  refresh();
  ctxRef.saveDraft();
}

function chip(cid, tie) {
  const c = el("span", {
    class: tie ? "chip tie" : "chip", draggable: "true", title: `Answer ${letterOf(cid)}`,
    dataset: { cid },
  }, letterOf(cid));
  c.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", cid); e.dataTransfer.effectAllowed = "move"; });
  return c;
}

function dropZone(node, rank) {
  node.addEventListener("dragover", (e) => { e.preventDefault(); node.classList.add("over"); });
  node.addEventListener("dragleave", () => node.classList.remove("over"));
  node.addEventListener("drop", (e) => {
    e.preventDefault();
    node.classList.remove("over");
    const cid = e.dataTransfer.getData("text/plain");
    if (comps.some((c) => c.id === cid)) setRank(cid, rank);
  });
}

function refresh() {
  const tieCount = {};
  for (const r of Object.values(ranks)) tieCount[r] = (tieCount[r] || 0) + 1;
  const slots = [];
  for (let r = 1; r <= comps.length; r++) {
    const members = comps.filter((c) => ranks[c.id] === r).map((c) => c.id);
    const slot = el("div", { class: "slot", dataset: { rank: r } },
      el("span", { class: "pos" }, `${r}.`), ...members.map((cid) => chip(cid, members.length > 1)),
      members.length > 1 ? el("span", { class: "small muted" }, "tie") : null);
    dropZone(slot, r);
    slots.push(slot);
  }
  orderBox.replaceChildren(...slots);
  const summary = groups().map(([, ids]) => ids.map(letterOf).join(" = ")).join("  >  ");
  orderBox.setAttribute("aria-label", summary ? `Order: ${summary}` : "No answer ranked yet");
  const missing = comps.filter((c) => !ranks[c.id]).map((c) => c.id);
  unrankedBox.replaceChildren(missing.length
    ? el("div", {}, el("div", { class: "small muted" }, "Not ranked yet (drag onto a place):"), el("div", { class: "row" }, ...missing.map((cid) => chip(cid, false))))
    : el("div", { class: "small muted" }, `Order: ${summary}`));
  dropZone(unrankedBox, null);

  for (const c of comps) {
    const card = cardOf(c.id);
    const r = ranks[c.id];
    const tie = r && tieCount[r] > 1;
    card.classList.toggle("ranked", Boolean(r));
    card.querySelector(".rank-badge").textContent = r ? `Rank ${r}${tie ? " (tie)" : ""}` : "Not ranked";
    card.querySelector("select.rank").value = r ? String(r) : "";
    const rating = card.querySelector("select.rating").value;
    card.setAttribute("aria-label", `Answer ${letterOf(c.id)}, ${r ? `rank ${r}${tie ? ", tied" : ""}` : "not ranked"}${rating ? `, rating ${rating}` : ""}`);
    card.querySelector("input.compare").checked = marked.includes(c.id);
  }
  compareBtn.disabled = marked.length !== 2;
}

function toggleCollapse(card, force) {
  const collapse = force === undefined ? !card.classList.contains("collapsed") : force;
  card.classList.toggle("collapsed", collapse);
  const btn = card.querySelector("button.toggle");
  btn.textContent = collapse ? "Expand" : "Collapse";
  btn.setAttribute("aria-expanded", String(!collapse));
}

function toggleMark(cid) {
  if (marked.includes(cid)) marked = marked.filter((x) => x !== cid);
  else marked = [...marked, cid].slice(-2);
  refresh();
  if (marked.length === 2 && marked.includes(cid)) ctxRef.say("info", `Answers ${marked.map(letterOf).join(" and ")} are marked: press "Compare the two marked" to see them side by side.`);
}

function openCompare() {
  if (marked.length !== 2) return;
  compareReturn = document.activeElement;
  compareCols.replaceChildren(...marked.map((cid) => el("div", {},
    el("h3", {}, `Answer ${letterOf(cid)}${ranks[cid] ? ` — rank ${ranks[cid]}` : ""}`),
    el("div", { class: "md", html: html[cid] }))));
  compareView.hidden = false;
  document.getElementById("compare-close").focus();
}

function closeCompare() {
  compareView.hidden = true;
  if (compareReturn) compareReturn.focus();
}

compareBtn.addEventListener("click", openCompare);
document.getElementById("compare-close").addEventListener("click", closeCompare);
compareView.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.stopPropagation(); closeCompare(); } });

function buildCard(c, index, flagsSet, draft) {
  const L = LETTERS[index];
  const K = comps.length;
  const rankSelect = el("select", { id: `rank-${L}`, class: "rank" }, new Option("—", ""),
    ...Array.from({ length: K }, (_, i) => new Option(String(i + 1), String(i + 1))));
  rankSelect.addEventListener("change", () => setRank(c.id, Number(rankSelect.value) || null));
  const rating = el("select", { id: `rating-${L}`, class: "rating" }, new Option("—", ""),
    ...[1, 2, 3, 4, 5, 6, 7].map((n) => new Option(n === 1 ? "1 (worst)" : n === 7 ? "7 (best)" : String(n), String(n))));
  rating.value = (draft.ratings && draft.ratings[c.id]) ? String(draft.ratings[c.id]) : "";
  rating.addEventListener("change", refresh);
  const chosen = new Set((draft.flags && draft.flags[c.id]) || []);
  const flagBoxes = flagsSet.map((f) => el("label", { class: "check" },
    el("input", { type: "checkbox", class: "flag", value: f, checked: chosen.has(f) ? true : null }), f.replaceAll("_", " ")));
  const flagsCount = el("span", { class: "small muted" }, chosen.size ? `(${chosen.size})` : "");
  const details = el("details", {}, el("summary", {}, "Flags ", el("kbd", {}, "f"), " ", flagsCount), el("div", { class: "flag-list" }, flagBoxes));
  details.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.preventDefault();
    e.stopPropagation();
    details.open = false;
    details.closest(".rcard").focus();
  });
  details.addEventListener("change", () => {
    const n = details.querySelectorAll("input.flag:checked").length;
    flagsCount.textContent = n ? `(${n})` : "";
  });
  const letter = el("span", { class: "letter", draggable: "true", title: "Drag onto a place in the order" }, L);
  letter.addEventListener("dragstart", (e) => { e.dataTransfer.setData("text/plain", c.id); e.dataTransfer.effectAllowed = "move"; });
  const compare = el("input", { type: "checkbox", class: "compare", id: `compare-${L}` });
  compare.addEventListener("change", () => toggleMark(c.id));
  const toggle = el("button", { type: "button", class: "small toggle", "aria-expanded": "true", "aria-controls": `body-${L}` }, "Collapse");
  const card = el("article", { class: "rcard", role: "listitem", tabindex: "0", dataset: { cid: c.id } },
    el("header", {}, letter, el("span", { class: "rank-badge" }, "Not ranked"),
      el("label", { for: `rank-${L}`, class: "small" }, "Rank"), rankSelect,
      el("span", { class: "spacer" }),
      el("label", { class: "check small", for: `compare-${L}` }, compare, "Compare"), toggle),
    el("div", { class: "body md", id: `body-${L}`, html: html[c.id] }),
    el("footer", {}, el("label", { for: `rating-${L}`, class: "small" }, "Rating ", el("kbd", {}, "Shift"), "+", el("kbd", {}, "1–7")), rating, details));
  toggle.addEventListener("click", () => toggleCollapse(card));
  card.addEventListener("keydown", (e) => onCardKey(e, card, c.id));
  card.addEventListener("dragover", (e) => e.preventDefault());
  card.addEventListener("drop", (e) => {
    // Dropping one answer on another ties them.
    e.preventDefault();
    const cid = e.dataTransfer.getData("text/plain");
    if (cid && cid !== c.id && ranks[c.id]) setRank(cid, ranks[c.id]);
  });
  // Only long answers get the collapse control; short ones are read at a glance.
  if ((c.content || "").length > LONG_CHARS || (c.content || "").split("\n").length > 12) toggleCollapse(card, true);
  else toggle.hidden = true;
  return card;
}

function setRating(card, value) {
  card.querySelector("select.rating").value = value ? String(value) : "";
  refresh();
  ctxRef.saveDraft();
}

function onCardKey(e, card, cid) {
  if (e.target !== card || e.ctrlKey || e.metaKey || e.altKey) return;
  const cards = [...cardsBox.querySelectorAll(".rcard")];
  const i = cards.indexOf(card);
  // Shift+digit is the rating: e.code, because Shift turns the key itself into "!", "@"…
  if (e.shiftKey && /^(Digit|Numpad)[0-7]$/.test(e.code)) {
    e.preventDefault();
    setRating(card, Number(e.code.slice(-1)) || null);
  } else if (e.key === "f") {
    e.preventDefault();
    const details = card.querySelector("details");
    details.open = true;
    const first = details.querySelector("input.flag");
    if (first) first.focus();
  } else if (/^[1-9]$/.test(e.key)) {
    e.preventDefault();
    const n = Number(e.key);
    if (n > comps.length) { ctxRef.say("warn", `There are ${comps.length} answers: use ranks 1 to ${comps.length}.`); return; }
    setRank(cid, n);
  } else if (e.key === "0" || e.key === "Backspace" || e.key === "Delete") {
    e.preventDefault();
    setRank(cid, null);
  } else if (e.key === "ArrowDown" || e.key === "j") {
    e.preventDefault();
    if (cards[i + 1]) cards[i + 1].focus();
  } else if (e.key === "ArrowUp" || e.key === "k") {
    e.preventDefault();
    if (cards[i - 1]) cards[i - 1].focus();
  } else if (e.key === "e") {
    e.preventDefault();
    if (!card.querySelector("button.toggle").hidden) toggleCollapse(card);
  } else if (e.key === "c") {
    e.preventDefault();
    toggleMark(cid);
    if (marked.length === 2 && marked.includes(cid)) openCompare();
  }
}

function readRatings() {
  const out = {};
  for (const c of comps) {
    const v = Number(cardOf(c.id).querySelector("select.rating").value);
    if (v) out[c.id] = v;
  }
  return out;
}

function readFlags() {
  const out = {};
  for (const c of comps) {
    const f = [...cardOf(c.id).querySelectorAll("input.flag:checked")].map((x) => x.value);
    if (f.length) out[c.id] = f;
  }
  return out;
}

nrSubmit.addEventListener("click", () => {
  const reason = nrReason.value.trim();
  if (!reason) { ctxRef.say("error", "Say why these answers cannot be ranked, then submit."); nrReason.focus(); return; }
  ctxRef.submit({ verdict: "not_rankable", reason });
});

startWork({
  async render(task, ctx, draft) {
    ctxRef = ctx;
    draft = draft || {};
    comps = task.completions || [];
    const messages = (task.prompt && task.prompt.messages) || [];
    const rendered = await renderMarkdown([...messages.map((m) => m.content), ...comps.map((c) => c.content)]);
    promptBox.replaceChildren(...messages.map((m, i) => el("div", { class: `message ${m.role}` },
      el("div", { class: "role" }, m.role), el("div", { class: "md", html: rendered[i] }))));
    html = {};
    comps.forEach((c, i) => { html[c.id] = rendered[messages.length + i]; });
    ranks = {};
    for (const [cid, r] of Object.entries(draft.ranks || {})) if (comps.some((c) => c.id === cid)) ranks[cid] = r;
    marked = [];
    nrReason.value = draft.nr_reason || "";
    const flagsSet = (task.project && task.project.flags) || [];
    cardsBox.replaceChildren(...comps.map((c, i) => buildCard(c, i, flagsSet, draft)));
    cardsBox.firstElementChild.setAttribute("data-autofocus", "");
    refresh();
  },
  draftData: () => ({ ranks, ratings: readRatings(), flags: readFlags(), nr_reason: nrReason.value }),
  copyText(data) {
    const letter = (cid) => letterOf(cid) || "?";
    const byRank = {};
    for (const [cid, r] of Object.entries((data && data.ranks) || {})) (byRank[r] = byRank[r] || []).push(letter(cid));
    const order = Object.keys(byRank).map(Number).sort((a, b) => a - b).map((r) => byRank[r].sort().join(" = ")).join(" > ");
    const parts = [];
    if (order) parts.push(`Order: ${order}.`);
    const ratings = Object.entries((data && data.ratings) || {}).map(([cid, v]) => `${letter(cid)} ${v}`);
    if (ratings.length) parts.push(`Ratings: ${ratings.join(", ")}.`);
    const flags = Object.entries((data && data.flags) || {}).map(([cid, f]) => `${letter(cid)}: ${f.join(", ").replaceAll("_", " ")}`);
    if (flags.length) parts.push(`Flags: ${flags.join("; ")}.`);
    if (data && data.nr_reason) parts.push(`Not rankable: ${data.nr_reason}`);
    return parts.join(" ");
  },
  validate() {
    const missing = comps.filter((c) => !ranks[c.id]).map((c) => letterOf(c.id));
    if (missing.length) {
      const list = missing.length === 1 ? missing[0] : `${missing.slice(0, -1).join(", ")} and ${missing.at(-1)}`;
      return `Give every answer a rank before submitting: ${list} ${missing.length === 1 ? "has" : "have"} none yet. (Or use "These answers cannot be ranked".)`;
    }
    return null;
  },
  collect: () => ({
    verdict: "ranked",
    ranking: groups().map(([, ids]) => ids),
    ratings: readRatings(),
    flags: readFlags(),
  }),
});
