// Shared controller of the work pages: fetch the next task, lease timer,
// progress, guidelines panel, skip, drafts in localStorage, submit with retry.
//
// A kind module provides: render(task, ctx, draftData), draftData(),
// validate() -> message|null, collect() -> the kind's submit fields.
import { api, ApiError, NetworkError, newKey, notice, postWithRetry } from "./api.js";

const DRAFT_PREFIX = "rankwise:draft:";
const DRAFT_MAX_AGE_MS = 14 * 24 * 3600 * 1000;

export function loadDraft(aid) {
  try {
    const raw = localStorage.getItem(DRAFT_PREFIX + aid);
    return raw ? JSON.parse(raw) : null;
  } catch (err) {
    return null;
  }
}

function storeDraft(aid, draft) {
  try {
    localStorage.setItem(DRAFT_PREFIX + aid, JSON.stringify({ ...draft, saved: Date.now() }));
    return true;
  } catch (err) {
    return false; // storage full or disabled: the page still works, without the safety net
  }
}

function dropDraft(aid) {
  try { localStorage.removeItem(DRAFT_PREFIX + aid); } catch (err) { /* nothing to drop */ }
}

function pruneOldDrafts() {
  try {
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const k = localStorage.key(i);
      if (!k || !k.startsWith(DRAFT_PREFIX)) continue;
      const d = JSON.parse(localStorage.getItem(k) || "{}");
      if (!d.saved || Date.now() - d.saved > DRAFT_MAX_AGE_MS) localStorage.removeItem(k);
    }
  } catch (err) { /* ignore */ }
}

export function isTyping(event) {
  const t = event.target;
  return t instanceof HTMLElement &&
    (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
}

function fmtLeft(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const mm = String(m % 60).padStart(h ? 2 : 1, "0");
  return `${h ? `${h}:` : ""}${mm}:${String(s % 60).padStart(2, "0")}`;
}

export function startWork(kind) {
  const root = document.getElementById("work");
  const pid = root.dataset.project;
  const form = document.getElementById("task");
  const status = document.getElementById("status");
  const empty = document.getElementById("empty");
  const progress = document.getElementById("progress");
  const lease = document.getElementById("lease");
  const guide = document.getElementById("guidelines");
  const guideOpen = document.getElementById("guidelines-open");
  const skipBtn = document.getElementById("skip");
  const submitBtns = () => form.querySelectorAll("[data-submit]");
  let task = null;
  let draft = null;
  let timer = null;
  let busy = false;
  let saveTimer = null;

  const say = (kindOf, text) => notice(status, kindOf, text);

  function showGuidelines(open) {
    guide.hidden = !open;
    guideOpen.setAttribute("aria-expanded", String(open));
    if (open) guide.focus(); else guideOpen.focus();
  }
  guideOpen.addEventListener("click", () => showGuidelines(guide.hidden));
  document.getElementById("guidelines-close").addEventListener("click", () => showGuidelines(false));

  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !guide.hidden) { e.preventDefault(); showGuidelines(false); return; }
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter" && task) { e.preventDefault(); submit(); return; }
    if (e.altKey && (e.key === "g" || e.key === "G")) { e.preventDefault(); showGuidelines(guide.hidden); return; }
    if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "g" || e.key === "?") { e.preventDefault(); showGuidelines(guide.hidden); }
  });

  function startLeaseTimer(expiresAt) {
    clearInterval(timer);
    const end = Date.parse(expiresAt);
    const tick = () => {
      const left = end - Date.now();
      if (Number.isNaN(end)) { lease.textContent = ""; return; }
      if (left <= 0) {
        lease.textContent = "Lease expired: submit soon, the task may go to someone else";
        lease.classList.add("low");
        clearInterval(timer);
        return;
      }
      lease.textContent = `Lease: ${fmtLeft(left)} left`;
      lease.classList.toggle("low", left < 120000);
    };
    tick();
    timer = setInterval(tick, 1000);
  }

  function showProgress(p) {
    if (!p) { progress.textContent = ""; return; }
    progress.textContent = `Today ${p.done_today} · total ${p.done_total} · ${p.remaining} left`;
  }

  const ctx = {
    saveDraft() {
      if (!task) return;
      clearTimeout(saveTimer);
      saveTimer = setTimeout(() => {
        draft.data = kind.draftData();
        storeDraft(task.assignment_id, draft);
      }, 250);
    },
    flushDraft() {
      if (!task) return;
      clearTimeout(saveTimer);
      draft.data = kind.draftData();
      storeDraft(task.assignment_id, draft);
    },
    submit: (override) => submit(override),
    say,
    get task() { return task; },
  };
  window.addEventListener("beforeunload", () => ctx.flushDraft());

  async function load(message) {
    task = null;
    clearInterval(timer);
    form.hidden = true;
    try {
      const r = await api("POST", `/projects/${encodeURIComponent(pid)}/next`);
      if (r.status === 204 || !r.data) {
        empty.hidden = false;
        lease.textContent = "";
        progress.textContent = "";
        if (message) say("ok", message);
        return;
      }
      task = r.data;
    } catch (err) {
      say("error", err instanceof NetworkError
        ? "The server could not be reached. Check the connection and reload the page."
        : err.message);
      return;
    }
    empty.hidden = true;
    draft = loadDraft(task.assignment_id);
    const restored = Boolean(draft && draft.data);
    if (!draft) draft = { key: newKey(), started: Date.now(), data: null };
    // Keep the key from the first moment: a retry after a reload must reuse it.
    storeDraft(task.assignment_id, draft);
    showProgress(task.progress);
    startLeaseTimer(task.expires_at);
    await kind.render(task, ctx, draft.data);
    form.hidden = false;
    if (message) say("ok", message);
    else if (restored) say("info", "Your unsent draft for this task was restored.");
    else say("", "");
    const first = form.querySelector("[data-autofocus]");
    if (first) first.focus();
  }

  async function submit(override) {
    if (!task || busy) return;
    const problem = override ? null : kind.validate();
    if (problem) { say("error", problem); return; }
    ctx.flushDraft();
    const aid = task.assignment_id;
    const body = {
      ...(override || kind.collect()),
      idempotency_key: draft.key,
      seconds: Math.max(0, Math.round((Date.now() - draft.started) / 1000)),
    };
    busy = true;
    submitBtns().forEach((b) => { b.disabled = true; });
    say("info", "Sending…");
    try {
      const r = await postWithRetry(`/assignments/${encodeURIComponent(aid)}/submit`, body, (attempt, err) => {
        const why = err instanceof NetworkError ? "The connection failed" : `The server answered ${err.status}`;
        say("warn", `${why}; retrying (attempt ${attempt + 1} of 5) with the same key, so it is stored only once…`);
      });
      dropDraft(aid);
      const replayed = r.status === 200;
      await load(replayed ? "Saved (the server already had this answer)." : "Saved. Here is the next task.");
    } catch (err) {
      if (err instanceof ApiError && (err.status === 409 || err.status === 410)) {
        dropDraft(aid);
        await load(err.message);
        say("warn", err.message);
      } else if (err instanceof NetworkError || (err instanceof ApiError && err.status >= 500)) {
        say("error", "Not saved yet: the server could not be reached. Your answer is kept in this browser; press Submit again to retry — it will be stored only once.");
      } else {
        say("error", err.message);
      }
    } finally {
      busy = false;
      submitBtns().forEach((b) => { b.disabled = false; });
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  form.addEventListener("input", () => ctx.saveDraft());
  form.addEventListener("change", () => ctx.saveDraft());

  skipBtn.addEventListener("click", async () => {
    if (!task || busy) return;
    const aid = task.assignment_id;
    try {
      await api("POST", `/assignments/${encodeURIComponent(aid)}/skip`);
      dropDraft(aid);
      await load("Skipped. You will not get that task again.");
    } catch (err) {
      say("error", err.message);
    }
  });

  pruneOldDrafts();
  load();
  return ctx;
}
