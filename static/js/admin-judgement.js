// One judgement as the labeler saw it: the prompt, the answers in the order
// shown to them (letters as on their screen), then what they submitted.
import { api, el, fmtDate, notice, renderMarkdown } from "./api.js";

const root = document.getElementById("judgement");
const LETTERS = "ABCDEFGHI";
const pretty = (s) => String(s || "").replaceAll("_", " ");

function message(m, html) {
  return el("div", { class: `message ${m.role}` }, el("div", { class: "role" }, m.role), el("div", { class: "md", html }));
}

async function main() {
  const status = document.getElementById("jd-status");
  let j;
  try {
    j = (await api("GET", `/judgements/${encodeURIComponent(root.dataset.id)}`)).data;
  } catch (err) {
    notice(status, "error", err.message);
    return;
  }
  notice(status, "", "");
  document.title = `Judgement ${j.id} · Rankwise`;
  const a = j.answer || {};
  const promptMsgs = (j.prompt && j.prompt.messages) || [];
  const written = (j.kind === "demonstration" || j.kind === "prompt_writing") ? (a.messages || []) : [];
  const texts = [...promptMsgs.map((m) => m.content), ...j.completions.map((c) => c.content), ...written.map((m) => m.content)];
  const html = await renderMarkdown(texts);
  const compHtml = (i) => html[promptMsgs.length + i];
  const writtenHtml = (i) => html[promptMsgs.length + j.completions.length + i];

  document.getElementById("jd-head").replaceChildren(el("div", { class: "panel" },
    el("h1", {}, `${pretty(j.kind)} by ${j.labeler.display_name}`),
    el("p", { class: "muted" }, `Project `, el("a", { href: `/admin/projects/${encodeURIComponent(j.project.id)}/judgements` }, j.project.name),
      ` · ${fmtDate(j.created_at)} · ${Math.round(j.seconds)} s spent · item ${j.item_id}`)));

  if (promptMsgs.length) {
    document.getElementById("jd-prompt-wrap").hidden = false;
    document.getElementById("jd-prompt").replaceChildren(...promptMsgs.map((m, i) => message(m, html[i])));
  }

  const rankOf = {};
  (a.ranking || []).forEach((group, i) => group.forEach((cid) => { rankOf[cid] = { rank: i + 1, tie: group.length > 1 }; }));
  if (j.completions.length) {
    document.getElementById("jd-comp-wrap").hidden = false;
    document.getElementById("jd-completions").replaceChildren(...j.completions.map((c, i) => {
      const bits = [];
      if (rankOf[c.id]) bits.push(`rank ${rankOf[c.id].rank}${rankOf[c.id].tie ? " (tie)" : ""}`);
      if (a.ratings && a.ratings[c.id]) bits.push(`rating ${a.ratings[c.id]}/7`);
      if (a.flags && a.flags[c.id]) bits.push(`flags: ${a.flags[c.id].map(pretty).join(", ")}`);
      if (a.preferred === c.id) bits.push(`preferred: ${pretty(a.margin_label)}`);
      if (a.safety && a.safety[c.id]) bits.push(a.safety[c.id]);
      return el("article", { class: a.preferred === c.id || (rankOf[c.id] && rankOf[c.id].rank === 1) ? "rcard ranked" : "rcard" },
        el("header", {}, el("span", { class: "letter" }, LETTERS[i]),
          el("span", { class: "muted small" }, `model: ${c.model || "unknown"}`), el("span", { class: "spacer" }),
          el("strong", {}, bits.join(" · "))),
        el("div", { class: "md", html: compHtml(i) }));
    }));
  }

  const out = document.getElementById("jd-answer");
  const parts = [];
  if (a.verdict) parts.push(el("p", {}, "Verdict: ", el("strong", {}, pretty(a.verdict))));
  if (a.ranking && a.ranking.length) {
    const letter = (cid) => LETTERS[j.shown_order.indexOf(cid)] || cid;
    parts.push(el("p", {}, "Order (best first): ", el("strong", {}, a.ranking.map((g) => g.map(letter).join(" = ")).join("  >  "))));
  }
  if (a.winner) parts.push(el("p", {}, `Winner: ${a.winner === "both_bad" ? "both bad" : a.winner.toUpperCase()}${a.margin_label ? `, ${pretty(a.margin_label)}` : ""} (A/B as stored; the labeler saw the answers in the order above)`));
  if (a.reason) parts.push(el("p", {}, "Reason: ", el("em", {}, a.reason)));
  if (a.category) parts.push(el("p", {}, `Category: ${pretty(a.category)}`));
  if (written.length) {
    const from = j.kind === "demonstration" ? (Number.isInteger(a.prompt_turns) ? a.prompt_turns : promptMsgs.length) : 0;
    written.forEach((m, i) => {
      if (i < from) return;
      parts.push(message(m, writtenHtml(i)));
    });
  }
  out.replaceChildren(...(parts.length ? parts : [el("p", { class: "muted" }, "Nothing recorded.")]));
  document.getElementById("jd-raw").textContent = JSON.stringify(j, null, 2);
}
main();
