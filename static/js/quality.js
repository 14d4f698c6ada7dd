// The quality page: project figures with intervals, agreement over time, the sortable
// labeler table, per-labeler interval charts, the labeler × labeler heat map, the most
// disputed items (links to review) and, for admins, settings, standing and gold import.
import { api, el, notice } from "./api.js";
import { bandLine, forest, heatMap, interval, pct } from "./charts.js";

const root = document.getElementById("quality");
const pid = root.dataset.project;
const isAdmin = root.dataset.admin === "yes";
const base = `/projects/${encodeURIComponent(pid)}`;
const FLAG_TEXT = {
  position_bias: "position bias", length_bias: "favours longer answers", too_fast: "too fast to have read",
  low_agreement: "low agreement", low_gold: "below the gold bar", unusable_often: "often not rankable",
  skips_often: "skips often",
};
const secs = (v) => `${v.toFixed(1)} s`;
const ratio = (v) => `${v.toFixed(2)}×`;
let labelers = [];
let sortKey = "name";
let sortDir = 1;

function tile(id, e, fmt) {
  document.getElementById(id).textContent = e && e.value !== null ? fmt(e.value) : "–";
  const ci = document.getElementById(`${id}-ci`);
  if (ci) ci.textContent = e && e.low !== null && e.value !== null ? `95%: ${fmt(e.low)}–${fmt(e.high)}` : "";
}

const sortValue = {
  name: (l) => l.name.toLowerCase(),
  judgements: (l) => l.judgements,
  agreement: (l) => l.agreement.value ?? -1,
  gold: (l) => l.gold.value ?? -1,
  position: (l) => l.position.value ?? -1,
  length: (l) => l.length.value ?? -1,
  seconds: (l) => l.seconds.value ?? -1,
  flags: (l) => l.flags.length,
};

function renderTable() {
  const rows = [...labelers].sort((a, b) => {
    const x = sortValue[sortKey](a); const y = sortValue[sortKey](b);
    return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
  });
  for (const th of document.querySelectorAll("#labeler-table th[data-key]")) {
    th.setAttribute("aria-sort", th.dataset.key === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none");
  }
  document.querySelector("#labeler-table tbody").replaceChildren(...rows.map((l) => el("tr", { class: l.flags.length ? "flagged-row" : null },
    el("th", { scope: "row", class: "name" }, l.name, el("div", { class: `small ${l.standing === "active" ? "muted" : "standing-off"}` }, l.standing.replaceAll("_", " "))),
    el("td", { class: "num" }, String(l.judgements)),
    cell(l.agreement, pct),
    cell(l.gold, pct, l.gold.value !== null ? `of ${l.gold.n}` : ""),
    cell(l.position, pct),
    cell(l.length, pct, l.length_base !== null ? `others ${pct(l.length_base)}` : ""),
    cell(l.seconds, secs, l.seconds_ratio.value !== null ? `${ratio(l.seconds_ratio.value)} team` : ""),
    el("td", {}, l.flags.length ? l.flags.map((f) => el("span", { class: "flag" }, FLAG_TEXT[f] || f)) : "—"),
    el("td", {}, el("button", { type: "button", class: "small", onclick: () => openLabeler(l) }, `Details`, el("span", { class: "sr-only" }, ` of ${l.name}`))),
  )));
}

// A figure over its 95% interval (and a note) in one table cell.
function cell(e, fmt, note = "") {
  if (!e || e.value === null || e.value === undefined) return el("td", { class: "num muted" }, "–");
  const range = e.low !== null && e.low !== undefined ? `${fmt(e.low)}–${fmt(e.high)}` : "";
  return el("td", { class: "num" }, el("b", {}, fmt(e.value)),
    el("div", { class: "small muted" }, [range, note].filter(Boolean).join(" · ")));
}

function forestRows(key) {
  return labelers.map((l) => ({ name: l.name, ...l[key], flagged: l.flags.length > 0 }));
}

async function openLabeler(l) {
  const dialog = document.getElementById("labeler-dialog");
  const status = document.getElementById("ld-status");
  document.getElementById("ld-title").textContent = l.name;
  document.getElementById("ld-body").replaceChildren(el("p", {}, "Loading…"));
  document.getElementById("ld-actions").replaceChildren();
  notice(status, "", "");
  dialog.classList.add("wide");
  dialog.showModal();
  try {
    const { data } = await api("GET", `${base}/quality/labelers/${encodeURIComponent(l.id)}`);
    const f = data.labeler;
    document.getElementById("ld-body").replaceChildren(
      el("p", {}, `Standing: ${f.standing.replaceAll("_", " ")}`, data.reason ? ` — ${data.reason}` : ""),
      el("ul", {},
        el("li", {}, `Agreement with the others: ${interval(f.agreement, pct)}; with their consensus: ${interval(f.loo, pct)}`),
        el("li", {}, `Gold: ${interval(f.gold, pct)} over ${f.gold.n} answers; screening ${data.screening_correct} of ${data.screening_answered}`),
        el("li", {}, `First shown wins ${interval(f.position, pct)}; longer wins ${interval(f.length, pct)}`),
        el("li", {}, `Median ${f.seconds.value !== null ? secs(f.seconds.value) : "–"}; too fast to read: ${interval(f.fast, pct)}`),
        el("li", {}, `Not rankable / both bad: ${interval(f.unusable, pct)}; skipped: ${interval(f.skips, pct)}`)),
      el("h3", {}, `Gold items answered wrongly (${data.mistakes.length})`),
      data.mistakes.length ? el("table", { class: "data" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Item"), el("th", { scope: "col" }, "Gold answer"), el("th", { scope: "col" }, "Their answer"))),
        el("tbody", {}, data.mistakes.map((m) => el("tr", {},
          el("td", {}, el("a", { href: `/review/items/${encodeURIComponent(m.item_id)}` }, m.item_id), m.screening ? " (screening)" : ""),
          el("td", {}, describeGold(m.gold)),
          el("td", {}, describeAnswer(m.answer)))))) : el("p", { class: "muted" }, "None."),
    );
    if (isAdmin) {
      const reason = el("input", { type: "text", id: "ld-reason", maxlength: "2000" });
      const act = (standing, text) => el("button", { type: "button", onclick: () => setStanding(l, standing, reason.value, status) }, text);
      document.getElementById("ld-actions").replaceChildren(
        el("label", { for: "ld-reason" }, "Reason"), reason,
        f.standing === "active" ? act("paused", "Pause") : act("active", f.standing === "failed_screening" ? "Let them work (override screening)" : "Resume"),
        f.standing !== "screening" ? act("screening", "Screen again") : null);
    }
  } catch (err) {
    notice(status, "error", err.message);
  }
}

const describeGold = (g) => [g.ranking ? g.ranking.map((t) => t.join(" = ")).join(" > ") : g.above.map(([x, y]) => `${x} above ${y}`).join(", "),
  g.margins ? ` (${g.margins.map((m) => m.replaceAll("_", " ")).join(" / ")})` : ""].join("");
const describeAnswer = (a) => a.ranking ? `${a.ranking.map((t) => t.join(" = ")).join(" > ")}${a.margin ? ` (${a.margin.replaceAll("_", " ")})` : ""}` : a.verdict;

async function setStanding(l, standing, reason, status) {
  try {
    await api("PUT", `${base}/quality/labelers/${encodeURIComponent(l.id)}/standing`, { standing, reason: reason.trim() || null });
    notice(status, "ok", `${l.name} is now ${standing.replaceAll("_", " ")}.`);
    await load();
  } catch (err) {
    notice(status, "error", err.message);
  }
}

function fillSettings(s) {
  const form = document.getElementById("settings-form");
  if (!form) return;
  form.gold_rate.value = s.gold_rate; form.gold_min_accuracy.value = s.gold_min_accuracy;
  form.gold_min_answers.value = s.gold_min_answers; form.pause_on_gold_failure.checked = s.pause_on_gold_failure;
  form.require_screening.checked = s.require_screening; form.screening_pass.value = s.screening_pass;
  form.correction_minutes.value = s.correction_minutes;
}

async function load() {
  const status = document.getElementById("q-status");
  let data;
  try {
    data = (await api("GET", `${base}/quality`)).data;
  } catch (err) {
    notice(status, "error", err.message);
    return;
  }
  const f = data.figures;
  notice(status, data.pending ? "info" : "", data.pending
    ? `${data.pending} newer judgements are being counted; the page updates in a moment.` : "");
  if (data.pending) setTimeout(load, 3000);
  document.getElementById("q-judgements").textContent = String(f.judgements);
  tile("q-agreement", f.agreement, pct);
  tile("q-alpha", f.alpha, (v) => v.toFixed(2));
  const pairwise = data.task_kind === "pairwise" || data.task_kind === "evaluation";
  document.getElementById("q-third-label").textContent = pairwise ? "same side and margin" : "Kendall's tau-b between labelers";
  tile("q-third", pairwise ? f.margin : f.tau, pairwise ? pct : (v) => v.toFixed(2));
  document.getElementById("q-gold").textContent = `${data.gold_items} + ${data.screening_items}`;
  labelers = data.labelers;
  renderTable();
  document.getElementById("chart-time").replaceChildren(bandLine(
    data.days.map((d) => ({ label: d.date, ...d.agreement })), "Agreement between labelers by day, with 95% intervals"));
  document.getElementById("chart-agreement").replaceChildren(forest(forestRows("agreement"), "Agreement of each labeler with the others"));
  document.getElementById("chart-gold").replaceChildren(forest(forestRows("gold"), "Gold accuracy of each labeler", { reference: data.settings.gold_min_accuracy }));
  document.getElementById("chart-position").replaceChildren(forest(forestRows("position"), "How often the answer shown first wins, per labeler", { reference: 0.5 }));
  document.getElementById("chart-speed").replaceChildren(forest(forestRows("seconds_ratio"), "Median seconds per judgement over the team's", { min: 0, max: 2, reference: 0.5, fmt: ratio }));
  const names = labelers.map((l) => ({ id: l.id, name: l.name }));
  document.getElementById("chart-heat").replaceChildren(heatMap(names, data.pairs, "Agreement between each two labelers"));
  document.querySelector("#disputed-table tbody").replaceChildren(...(data.disputed.length ? data.disputed.map((d) => el("tr", {},
    el("td", {}, d.prompt || "(no prompt)"), el("td", { class: "num" }, String(d.labelers)),
    el("td", { class: "num" }, `${d.agreed} of ${d.compared}`), el("td", { class: "num" }, pct(d.dispute)),
    el("td", {}, el("a", { class: "button small", href: `/review/items/${encodeURIComponent(d.item_id)}` }, "Review")))) :
    [el("tr", {}, el("td", { colspan: "5", class: "muted" }, "No item has two judgements yet."))]));
  fillSettings(data.settings);
}

for (const th of document.querySelectorAll("#labeler-table th[data-key]")) {
  th.querySelector("button").addEventListener("click", () => {
    sortDir = sortKey === th.dataset.key ? -sortDir : 1;
    sortKey = th.dataset.key;
    renderTable();
  });
}
document.getElementById("ld-close").addEventListener("click", () => document.getElementById("labeler-dialog").close());

const settingsForm = document.getElementById("settings-form");
if (settingsForm) {
  settingsForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const s = document.getElementById("settings-status");
    const body = {
      gold_rate: Number(settingsForm.gold_rate.value), gold_min_accuracy: Number(settingsForm.gold_min_accuracy.value),
      gold_min_answers: Number(settingsForm.gold_min_answers.value), pause_on_gold_failure: settingsForm.pause_on_gold_failure.checked,
      require_screening: settingsForm.require_screening.checked, screening_pass: Number(settingsForm.screening_pass.value),
      correction_minutes: Number(settingsForm.correction_minutes.value),
    };
    try {
      await api("PUT", `${base}/quality/settings`, body);
      notice(s, "ok", "Saved.");
    } catch (err) {
      notice(s, "error", err.message);
    }
  });
  const goldForm = document.getElementById("gold-form");
  const store = document.getElementById("gold-store");
  const goldStatus = document.getElementById("gold-status");
  const send = async (dry) => {
    const file = document.getElementById("gold-file").files[0];
    if (!file) { notice(goldStatus, "error", "Choose a file first."); return; }
    const form = new FormData();
    form.append("file", file);
    try {
      const { data } = await api("POST", `${base}/gold:import${dry ? "?dry_run=true" : ""}`, form);
      if (!data.ok) {
        notice(goldStatus, "error", `${data.error_count} of ${data.lines} lines have errors; first, line ${data.errors[0].line}: ${data.errors[0].message}`);
        store.disabled = true;
      } else if (dry) {
        notice(goldStatus, "ok", `All ${data.valid} gold items are valid. Nothing is stored yet.`);
        store.disabled = false;
      } else {
        notice(goldStatus, "ok", `Stored ${data.items} gold items.`);
        store.disabled = true;
        await load();
      }
    } catch (err) {
      const first = err.body && err.body.errors && err.body.errors[0];
      notice(goldStatus, "error", first ? `Line ${first.line}: ${first.message}` : err.message);
      store.disabled = true;
    }
  };
  goldForm.addEventListener("submit", (event) => { event.preventDefault(); send(true); });
  store.addEventListener("click", () => send(false));
}
load();
