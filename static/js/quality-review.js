// Review one item: every labeler's judgement side by side, where each differs from the
// majority highlighted; accept or reject each with a reason (the labeler sees it).
import { api, el, fmtDate, notice, renderMarkdown } from "./api.js";

const root = document.getElementById("review");
const item = root.dataset.item;
const status = document.getElementById("rv-status");
const pretty = (s) => String(s || "").replaceAll("_", " ");

function message(m, html) {
  return el("div", { class: `message ${m.role}` }, el("div", { class: "role" }, m.role), el("div", { class: "md", html }));
}

// Where each letter sits in an order of tie groups (0 best).
function places(groups) {
  const at = {};
  groups.forEach((g, i) => g.forEach((letter) => { at[letter] = i; }));
  return at;
}

function orderChips(groups, majority) {
  const mine = places(groups);
  const theirs = places(majority);
  const letters = Object.keys(mine);
  // A letter is "off" when this order puts it above or below another letter the other way round from the majority.
  const off = new Set(letters.filter((x) => letters.some((y) => x !== y && theirs[x] !== undefined && theirs[y] !== undefined
    && (mine[x] - mine[y]) * (theirs[x] - theirs[y]) < 0)));
  const parts = [];
  groups.forEach((g, i) => {
    if (i) parts.push(el("span", { "aria-hidden": "true" }, ">"));
    g.forEach((letter, k) => {
      if (k) parts.push(el("span", { "aria-hidden": "true" }, "="));
      parts.push(el("span", { class: off.has(letter) ? "chip off" : "chip", title: off.has(letter) ? "placed differently from the majority" : "" }, letter));
    });
  });
  return el("div", { class: "order", "aria-label": groups.map((g) => g.join(" tied with ")).join(", then ") }, parts);
}

function answerView(j, majority) {
  const a = j.answer;
  if (a.verdict === "not_rankable") return el("p", {}, el("strong", {}, "Not rankable: "), a.reason || "");
  if (a.ranking) return orderChips(a.ranking, majority);
  if (a.verdict === "preferred") {
    const other = a.preferred === "A" ? "B" : "A";
    return el("div", {}, orderChips([[a.preferred], [other]], majority), el("p", {}, `${a.preferred} ${pretty(a.margin_label)}`),
      a.reason ? el("p", { class: "muted" }, a.reason) : null);
  }
  if (a.messages) return el("p", {}, (a.messages[a.messages.length - 1] || {}).content || "");
  return el("p", {}, pretty(a.verdict));
}

function card(j, majority, alone) {
  const reason = el("textarea", { id: `reason-${j.id}`, rows: "2", maxlength: "2000", placeholder: "Why? The labeler sees this." });
  if (j.review && j.review.reason) reason.value = j.review.reason;
  const note = el("p", { class: "notice", role: "status", "aria-live": "polite" });
  const decide = async (verdict) => {
    try {
      await api("PUT", `/review/judgements/${encodeURIComponent(j.id)}`, { verdict, reason: reason.value.trim() || null });
      notice(status, "ok", `${j.labeler.name}'s judgement ${verdict}.`);
      await load();
    } catch (err) {
      notice(note, "error", err.message);
    }
  };
  const state = j.review ? `${j.review.verdict}${j.review.reviewer ? ` by ${j.review.reviewer}` : ""}` : "not reviewed";
  const classes = ["review-card"];
  if (j.disagreements) classes.push("disagrees");
  if (j.review && j.review.verdict === "rejected") classes.push("rejected");
  return el("article", { class: classes.join(" "), "aria-label": `Judgement by ${j.labeler.name}` },
    el("header", { class: "row" }, el("h3", {}, j.labeler.name), el("span", { class: `badge ${j.review ? (j.review.verdict === "rejected" ? "bad" : "ok") : ""}` }, state)),
    el("p", { class: "small muted" }, `${fmtDate(j.created_at)} · ${Math.round(j.seconds)} s${j.revisions ? ` · corrected ${j.revisions}×` : ""}`),
    answerView(j, majority),
    el("p", { class: "small" }, j.compared ? `Differs from the majority on ${j.disagreements} of ${j.compared} pairs.`
      : alone ? "No other judgement to compare with." : "The others are split on every pair: no majority to compare with."),
    j.gold_correct === null ? null : el("p", {}, el("span", { class: `badge ${j.gold_correct ? "ok" : "bad"}` }, j.gold_correct ? "matches the gold answer" : "misses the gold answer")),
    el("label", { for: `reason-${j.id}` }, "Reason"), reason,
    el("div", { class: "actions" },
      el("button", { type: "button", onclick: () => decide("accepted") }, "Accept", el("span", { class: "sr-only" }, ` ${j.labeler.name}'s judgement`)),
      el("button", { type: "button", class: "danger", onclick: () => decide("rejected") }, "Reject", el("span", { class: "sr-only" }, ` ${j.labeler.name}'s judgement`))),
    note);
}

async function load() {
  let data;
  try {
    data = (await api("GET", `/review/items/${encodeURIComponent(item)}`)).data;
  } catch (err) {
    notice(status, "error", err.message);
    return;
  }
  const prompt = data.prompt || [];
  const html = await renderMarkdown([...prompt.map((m) => m.content), ...data.completions.map((c) => c.content)]);
  document.getElementById("rv-head").replaceChildren(el("div", { class: "panel" },
    el("h1", {}, `Review: ${data.project.name}`),
    el("p", { class: "muted" }, `Item ${data.item_id} · ${pretty(data.task_kind)} · ${data.judgements.length} judgements`,
      data.gold ? el("span", { class: "badge" }, " gold item") : null),
    data.consensus.length ? el("div", {}, el("span", { class: "muted" }, "Majority order: "), orderChips(data.consensus, data.consensus)) : null,
    data.gold ? el("p", {}, `Gold: ${data.gold.ranking ? data.gold.ranking.map((t) => t.join(" = ")).join(" > ") : data.gold.above.map(([x, y]) => `${x} above ${y}`).join(", ")}`) : null));
  if (prompt.length) {
    document.getElementById("rv-prompt-wrap").hidden = false;
    document.getElementById("rv-prompt").replaceChildren(...prompt.map((m, i) => message(m, html[i])));
  }
  document.getElementById("rv-completions").replaceChildren(...data.completions.map((c, i) => el("article", { class: "answer" },
    el("h3", {}, el("span", { class: "letter-chip" }, c.letter), ` ${c.model}`), el("div", { class: "md", html: html[prompt.length + i] }))));
  document.getElementById("rv-judgements").replaceChildren(...data.judgements.map((j) => card(j, data.consensus, data.judgements.length < 2)));
  if (status.classList.contains("error") || status.textContent === "Loading…") notice(status, "", "");
}
load();
