// Shared controller of the work pages: fetch the next task, the lease (renewed while
// the labeler works, with a warning before it runs out), progress, guidelines panel,
// skip, drafts in localStorage, submit with retry, and answers kept when a task is lost.
//
// A kind module provides: render(task, ctx, draftData), draftData(),
// validate() -> message|null, collect() -> the kind's submit fields,
// copyText(draftData) -> the answer as plain text (to copy it elsewhere), and,
// where an answer fits another task of the kind, reuse(draftData).
import { api, ApiError, NetworkError, newKey, notice, postWithRetry } from "./api.js";

const DRAFT_PREFIX = "rankwise:draft:";
const KEPT_PREFIX = "rankwise:kept:";
const DRAFT_MAX_AGE_MS = 14 * 24 * 3600 * 1000;
const KEPT_MAX = 5;
// The lease is renewed only while someone works on the page: a key, a click, typing or
// scrolling in the last ACTIVE_MS. The server caps how long one task can be held.
const ACTIVE_MS = 5 * 60 * 1000;
const RENEW_RETRY_MS = 10 * 1000;
const WARN_MS = 2 * 60 * 1000;

function readJson(key) {
  try {
    const raw = localStorage.getItem(key);
    return raw ? JSON.parse(raw) : null;
  } catch (err) {
    return null;
  }
}

function writeJson(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch (err) {
    return false; // storage full or disabled: the page still works, without the safety net
  }
}

export function loadDraft(aid) {
  return readJson(DRAFT_PREFIX + aid);
}

function storeDraft(aid, draft) {
  return writeJson(DRAFT_PREFIX + aid, { ...draft, saved: Date.now() });
}

function dropDraft(aid) {
  try { localStorage.removeItem(DRAFT_PREFIX + aid); } catch (err) { /* nothing to drop */ }
}

function pruneOldDrafts() {
  try {
    for (let i = localStorage.length - 1; i >= 0; i--) {
      const k = localStorage.key(i);
      if (!k || !(k.startsWith(DRAFT_PREFIX) || k.startsWith(KEPT_PREFIX))) continue;
      const d = JSON.parse(localStorage.getItem(k) || "{}");
      const saved = Array.isArray(d) ? Math.max(0, ...d.map((x) => x.saved || 0)) : d.saved;
      if (!saved || Date.now() - saved > DRAFT_MAX_AGE_MS) localStorage.removeItem(k);
    }
  } catch (err) { /* ignore */ }
}

// Answers of tasks that went to someone else, newest first, per task kind: offered on
// the next task of the same kind, never deleted unless the labeler says so.
function keptAnswers(kindName) {
  const list = readJson(KEPT_PREFIX + kindName);
  return Array.isArray(list) ? list : [];
}

function keepAnswer(kindName, entry) {
  const list = keptAnswers(kindName).filter((k) => k.aid !== entry.aid);
  writeJson(KEPT_PREFIX + kindName, [entry, ...list].slice(0, KEPT_MAX));
}

function forgetAnswer(kindName, aid) {
  writeJson(KEPT_PREFIX + kindName, keptAnswers(kindName).filter((k) => k.aid !== aid));
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

const fmtTime = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

export async function copyToClipboard(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (err) {
    // Plain-HTTP installs have no clipboard API: the old way still works there.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

export function startWork(kind) {
  const root = document.getElementById("work");
  const pid = root.dataset.project;
  const kindName = root.dataset.kind;
  const form = document.getElementById("task");
  const status = document.getElementById("status");
  const empty = document.getElementById("empty");
  const progress = document.getElementById("progress");
  const lease = document.getElementById("lease");
  const guide = document.getElementById("guidelines");
  const guideOpen = document.getElementById("guidelines-open");
  const skipBtn = document.getElementById("skip");
  const lostBox = document.getElementById("lost");
  const keptBox = document.getElementById("kept");
  const submitBtns = () => form.querySelectorAll("[data-submit]");
  let task = null;
  let draft = null;
  let timer = null;
  let busy = false;
  let saveTimer = null;
  let lastActivity = Date.now();
  let leaseEnd = NaN;
  let holdUntil = NaN;
  let renewing = false;
  let renewAfter = 0;
  let warned = false;
  let lostAid = null;
  // Server time minus this browser's (from the Date header): expiry times come from the
  // server, so a computer whose clock is off still counts the lease down correctly.
  let skew = 0;
  const serverNow = () => Date.now() + skew;
  function learnSkew(headers) {
    const at = Date.parse((headers && headers.get("date")) || "");
    if (!Number.isNaN(at)) skew = at - Date.now();
  }

  // Errors and warnings are brought into view and announced at once; the sticky work
  // bar is kept clear of them by the status line's scroll margin (app.css).
  function say(kindOf, text) {
    status.setAttribute("aria-live", kindOf === "error" || kindOf === "warn" ? "assertive" : "polite");
    notice(status, kindOf, text);
    if (text && (kindOf === "error" || kindOf === "warn")) status.scrollIntoView({ block: "nearest" });
  }

  for (const type of ["keydown", "pointerdown", "input", "wheel"]) {
    document.addEventListener(type, () => { lastActivity = Date.now(); }, { capture: true, passive: true });
  }

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

  // --- the lease: renewed while the labeler works, a warning before it runs out ---

  async function renew() {
    const aid = task.assignment_id;
    renewing = true;
    try {
      const { data, headers } = await api("POST", `/assignments/${encodeURIComponent(aid)}/renew`);
      if (!task || task.assignment_id !== aid) return;
      learnSkew(headers);
      leaseEnd = Date.parse(data.expires_at);
      holdUntil = Date.parse(data.hold_until);
      if (warned) say("", ""); // the warning no longer holds
      warned = false;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 409 || err.status === 410)) {
        if (task && task.assignment_id === aid) lost(err);
        return;
      }
      renewAfter = Date.now() + RENEW_RETRY_MS; // offline for a moment: try again soon
    } finally {
      renewing = false;
    }
  }

  function tick() {
    if (!task || Number.isNaN(leaseEnd)) { lease.textContent = ""; return; }
    const now = Date.now();
    const left = leaseEnd - serverNow();
    const leaseMs = task.project.lease_seconds * 1000;
    const canExtend = leaseEnd < holdUntil;
    if (!renewing && canExtend && left < leaseMs / 2 && now - lastActivity < ACTIVE_MS && now >= renewAfter) {
      renew();
    }
    if (left <= 0) {
      lease.textContent = "Time is up: submit now, the task may go to someone else";
      lease.classList.add("low");
      return;
    }
    const warnAt = Math.min(WARN_MS, leaseMs / 3);
    lease.textContent = `Lease: ${fmtLeft(left)} left`;
    lease.classList.toggle("low", left < warnAt);
    if (left < warnAt && !warned) {
      warned = true;
      say("warn", canExtend
        ? `This task is yours for ${fmtLeft(left)} more. Keep working (any key or click) and it stays yours; your text is kept in this browser either way.`
        : `This task cannot be held past ${fmtTime(holdUntil - skew)}: submit before then. Your text is kept in this browser either way.`);
    }
  }

  function startLease(t) {
    clearInterval(timer);
    leaseEnd = Date.parse(t.expires_at);
    holdUntil = Date.parse(t.hold_until || t.expires_at);
    warned = false;
    renewAfter = 0;
    tick();
    timer = setInterval(tick, 1000);
  }

  function showProgress(p) {
    if (!p) { progress.textContent = ""; return; }
    progress.textContent = `Today ${p.done_today} · total ${p.done_total} · ${p.remaining} left for you`;
  }

  const ctx = {
    saveDraft() {
      if (!task) return;
      clearTimeout(saveTimer);
      saveTimer = setTimeout(() => {
        if (!task) return;
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

  // --- a task that went to someone else: keep the answer, offer to copy and reuse it ---

  function copyButton(textOf, label) {
    const btn = document.createElement("button");
    btn.type = "button";
    btn.textContent = label;
    btn.addEventListener("click", async () => {
      const ok = await copyToClipboard(textOf());
      say(ok ? "ok" : "error", ok ? "Copied: paste it wherever you need it." : "The browser did not let the page copy; select the text and copy it by hand.");
    });
    return btn;
  }

  // What is on screen after a loss stays the labeler's: edits go on being kept.
  function keepLost() {
    const data = kind.draftData();
    storeDraft(lostAid, { ...draft, data });
    keepAnswer(kindName, { aid: lostAid, saved: Date.now(), data, text: kind.copyText(data) });
  }

  // `fromSubmit`: the labeler just pressed Submit, so focus can go to the panel; a loss
  // found by a renewal while they type must not take the keyboard away from them.
  function lost(err, fromSubmit = false) {
    clearTimeout(saveTimer);
    lostAid = task.assignment_id;
    keepLost();
    task = null;
    clearInterval(timer);
    lease.textContent = "";
    skipBtn.hidden = true;
    submitBtns().forEach((b) => { b.disabled = true; });
    const why = err.status === 410
      ? "Your time on this task ran out and another labeler has taken it, so your answer was not stored."
      : `${err.message}`;
    const next = document.createElement("button");
    next.type = "button";
    next.className = "primary";
    next.textContent = "Go to the next task";
    next.addEventListener("click", () => { lostBox.hidden = true; load(); });
    const copy = copyButton(() => kind.copyText(kind.draftData()), "Copy my answer");
    lostBox.replaceChildren(
      Object.assign(document.createElement("h2"), { textContent: "This task is no longer yours" }),
      Object.assign(document.createElement("p"), { textContent: `${why} Nothing you wrote is lost: it stays on this page, you can copy it, and it is offered again on your next ${kindName.replaceAll("_", " ")} task.` }),
      Object.assign(document.createElement("div"), { className: "actions" }),
    );
    lostBox.querySelector(".actions").append(copy, next);
    lostBox.hidden = false;
    say("", ""); // the panel says it (and is announced: aria-live)
    if (fromSubmit) {
      lostBox.scrollIntoView({ block: "nearest" });
      copy.focus();
    }
  }

  function offerKept() {
    const entry = keptAnswers(kindName).find((k) => !task || k.aid !== task.assignment_id);
    if (!entry || !entry.text) { keptBox.hidden = true; return; }
    const actions = document.createElement("div");
    actions.className = "actions";
    if (kind.reuse && task) {
      const use = document.createElement("button");
      use.type = "button";
      use.className = "primary";
      use.textContent = "Use it for this task";
      use.addEventListener("click", () => {
        kind.reuse(entry.data);
        forgetAnswer(kindName, entry.aid);
        ctx.saveDraft();
        keptBox.hidden = true;
        say("ok", "Your kept answer is in place: check it against this task before submitting.");
        const first = form.querySelector("[data-autofocus]");
        if (first) first.focus();
      });
      actions.append(use);
    }
    const drop = document.createElement("button");
    drop.type = "button";
    drop.textContent = "Discard it";
    drop.addEventListener("click", () => { forgetAnswer(kindName, entry.aid); offerKept(); });
    actions.append(copyButton(() => entry.text, "Copy it"), drop);
    const preview = document.createElement("blockquote");
    preview.className = "kept-text";
    preview.textContent = entry.text.length > 400 ? `${entry.text.slice(0, 400)}…` : entry.text;
    keptBox.replaceChildren(
      Object.assign(document.createElement("h2"), { textContent: "You have an answer kept from a task that went to someone else" }),
      Object.assign(document.createElement("p"), { className: "muted small", textContent: `Kept at ${fmtTime(entry.saved)}.` }),
      preview,
      actions,
    );
    keptBox.hidden = false;
  }

  // --- tasks ---

  function showEmpty(message) {
    task = null;
    clearInterval(timer);
    form.hidden = true;
    empty.hidden = false;
    skipBtn.hidden = true;
    lease.textContent = "";
    progress.textContent = "";
    offerKept(); // still there to copy, though there is no task to use it on
    say(message ? "ok" : "", message || "");
  }

  // `done`: what just happened ("Saved.", "Skipped. …"), said together with what follows.
  async function load(done) {
    task = null;
    lostAid = null;
    clearInterval(timer);
    form.hidden = true;
    lostBox.hidden = true;
    let next;
    try {
      const r = await api("POST", `/projects/${encodeURIComponent(pid)}/next`);
      learnSkew(r.headers);
      next = r.status === 204 || !r.data ? null : r.data;
    } catch (err) {
      say("error", err instanceof NetworkError
        ? "The server could not be reached. Check the connection and reload the page."
        : err.message);
      return;
    }
    if (!next) {
      showEmpty(done ? `${done} There is nothing left for you in this project.` : "");
      return;
    }
    task = next;
    empty.hidden = true;
    skipBtn.hidden = false;
    draft = loadDraft(task.assignment_id);
    const restored = Boolean(draft && draft.data);
    if (!draft) draft = { key: newKey(), started: Date.now(), data: null };
    // Keep the key from the first moment: a retry after a reload must reuse it.
    storeDraft(task.assignment_id, draft);
    startLease(task);
    await kind.render(task, ctx, draft.data);
    form.hidden = false;
    submitBtns().forEach((b) => { b.disabled = false; });
    offerKept();
    if (done) say("ok", `${done} Here is the next task.`);
    else if (restored) say("info", "Your unsent draft for this task was restored.");
    else say("", "");
    const first = form.querySelector("[data-autofocus]");
    if (first) first.focus();
    // Last: the counter changes only once the task can take keys, so what the labeler
    // (or a test) sees updated is ready for the next keystroke.
    showProgress(task.progress);
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
      forgetAnswer(kindName, aid);
      busy = false;
      await load(r.status === 200 ? "Saved (the server already had this answer)." : "Saved.");
    } catch (err) {
      busy = false;
      if (err instanceof ApiError && (err.status === 409 || err.status === 410)) {
        lost(err, true);
        return;
      }
      const errors = (err instanceof ApiError && err.body.errors) || [];
      if (err.status === 422 && errors.some((e) => e.field === "idempotency_key")) {
        // An earlier send of this answer was stored (its reply never arrived) and the
        // answer was edited since: the stored one stands; the edited one is kept here.
        const data = kind.draftData();
        keepAnswer(kindName, { aid, saved: Date.now(), data, text: kind.copyText(data) });
        dropDraft(aid);
        await load("Your first answer to that task was already stored, so your later changes were not; they are kept below.");
        return;
      } else if (err instanceof NetworkError || (err instanceof ApiError && err.status >= 500)) {
        say("error", "Not saved yet: the server could not be reached. Your answer is kept in this browser; press Submit again to retry — it will be stored only once.");
      } else {
        say("error", err.message);
      }
      submitBtns().forEach((b) => { b.disabled = false; });
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  const edited = () => { if (task) ctx.saveDraft(); else if (lostAid) keepLost(); };
  form.addEventListener("input", edited);
  form.addEventListener("change", edited);

  skipBtn.addEventListener("click", async () => {
    if (!task || busy) return;
    const aid = task.assignment_id;
    try {
      await api("POST", `/assignments/${encodeURIComponent(aid)}/skip`);
      dropDraft(aid);
      await load("Skipped: you will not get that task again.");
    } catch (err) {
      say("error", err.message);
    }
  });

  pruneOldDrafts();
  load();
  return ctx;
}
