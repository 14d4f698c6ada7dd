// A labeler's own judgements with reviewers' verdicts and reasons, and their own figures
// beside the team's (never anyone else's).
import { api, el, fmtDate, notice } from "./api.js";
import { interval, pct } from "./charts.js";

const root = document.getElementById("history");
const select = document.getElementById("h-project");
const status = document.getElementById("h-status");
const more = document.getElementById("h-more");
let cursor = null;

function tile(label, mine, team, fmt = pct) {
  return el("div", { class: "tile" }, el("b", {}, mine && mine.value !== null ? fmt(mine.value) : "–"),
    el("span", { class: "muted" }, label),
    el("div", { class: "small muted" }, [
      mine && mine.low !== null && mine.value !== null ? `95%: ${fmt(mine.low)}–${fmt(mine.high)}` : "",
      team && team.value !== null ? `team ${fmt(team.value)}` : "",
    ].filter(Boolean).join(" · ")));
}

async function figures(pid) {
  const { data } = await api("GET", `/projects/${encodeURIComponent(pid)}/quality/me`);
  const me = data.labeler;
  const parts = [
    tile("agreement with the others", me.agreement, data.team.agreement),
    tile("gold items right", me.gold),
    tile("the answer shown first wins", me.position, data.team.position),
    tile("median seconds", me.seconds, data.team.seconds, (v) => `${v.toFixed(1)} s`),
  ];
  if (me.standing !== "active") parts.unshift(el("div", { class: "tile" }, el("b", {}, me.standing.replaceAll("_", " ")), el("span", { class: "muted" }, "your standing here")));
  document.getElementById("h-tiles").replaceChildren(...parts);
}

const LETTERS = "ABCDEFGHI";
const MARGINS = ["significantly_better", "better", "slightly_better", "negligibly_better"];

// The corrected answer as the submit body of its kind, from what the labeler typed:
// pairwise "A better" / "both bad"; ranking "B > A = C > D" (letters as they saw them).
function correction(j, text) {
  const letter = (x) => {
    const i = LETTERS.indexOf(x.trim().toUpperCase());
    if (i < 0 || i >= j.shown.length) throw new Error(`"${x.trim()}" is not one of the answers ${LETTERS.slice(0, j.shown.length).split("").join(", ")}.`);
    return j.shown[i];
  };
  const body = { idempotency_key: crypto.randomUUID ? crypto.randomUUID() : `fix-${Date.now()}` };
  if (j.task_kind === "ranking") {
    return { ...body, verdict: "ranked", ranking: text.split(">").map((g) => g.split("=").map(letter)) };
  }
  if (/^both bad\b/i.test(text.trim())) return { ...body, verdict: "both_bad" };
  const [first, ...rest] = text.trim().split(/\s+/);
  const margin = rest.join("_").toLowerCase();
  if (!MARGINS.includes(margin)) throw new Error(`Say how much better: ${MARGINS.map((m) => m.replaceAll("_", " ")).join(", ")}.`);
  return { ...body, verdict: "preferred", preferred: letter(first), margin_label: margin };
}

function correctForm(j) {
  const input = el("input", { type: "text", id: `fix-${j.id}`, value: j.summary, maxlength: "200" });
  const note = el("span", { class: "notice", role: "status", "aria-live": "polite" });
  const form = el("form", { class: "row" }, el("label", { for: `fix-${j.id}`, class: "sr-only" }, "Corrected answer"), input,
    el("button", { type: "submit", class: "small" }, "Correct"), note);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", `/judgements/${encodeURIComponent(j.id)}/correction`, correction(j, input.value));
      notice(status, "ok", "Corrected; the earlier answer is kept.");
      cursor = null;
      await load();
    } catch (err) {
      notice(note, "error", err.message);
    }
  });
  return form;
}

function row(j) {
  const r = j.review;
  const open = j.correctable_until && new Date(j.correctable_until) > new Date();
  const correctable = open && ["ranking", "pairwise", "evaluation"].includes(j.task_kind);
  return el("tr", { class: r && r.verdict === "rejected" ? "bad" : null },
    el("td", {}, fmtDate(j.created_at)),
    el("td", {}, correctable ? correctForm(j) : j.summary, j.revisions ? el("span", { class: "muted" }, ` (corrected ${j.revisions}×)`) : null),
    el("td", {}, r ? el("span", { class: `badge ${r.verdict === "rejected" ? "bad" : "ok"}` }, r.verdict) : el("span", { class: "muted" }, "not reviewed")),
    el("td", {}, r && r.reason ? r.reason : ""),
    el("td", {}, open ? fmtDate(j.correctable_until) : "—"));
}

async function page(pid, append) {
  const q = new URLSearchParams({ project: pid, limit: "50" });
  if (append && cursor) q.set("cursor", cursor);
  const { data } = await api("GET", `/me/judgements?${q}`);
  const body = document.querySelector("#h-table tbody");
  const rows = data.items.map(row);
  if (append) body.append(...rows); else body.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "5", class: "muted" }, "No judgements yet."))]));
  cursor = data.next_cursor;
  more.hidden = !cursor;
}

async function load(append = false) {
  try {
    if (!append) await figures(select.value);
    await page(select.value, append);
    notice(status, "", "");
  } catch (err) {
    notice(status, "error", err.message);
  }
}

if (root) {
  select.addEventListener("change", () => { cursor = null; load(); });
  more.addEventListener("click", () => load(true));
  load();
}
