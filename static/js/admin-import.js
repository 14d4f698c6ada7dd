// Import: dry run first (every line checked, nothing stored), then confirm
// with the very same file.
import { api, el, notice } from "./api.js";

const form = document.getElementById("import");
const pid = form.dataset.project;
const fileInput = document.getElementById("file");
const confirmBtn = document.getElementById("confirm");
const status = document.getElementById("import-status");
const report = document.getElementById("report");
let checked = null; // { file, what } that passed the dry run

const what = () => form.querySelector("input[name=what]:checked").value;
const path = (kind, dry) => `/projects/${encodeURIComponent(pid)}/${kind}:import?dry_run=${dry}`;

function upload(kind, file, dry) {
  const data = new FormData();
  data.append("file", file);
  return api("POST", path(kind, dry), data);
}

function showReport(r) {
  report.hidden = false;
  document.getElementById("report-summary").replaceChildren(
    el("span", { class: r.ok ? "badge ok" : "badge bad" }, r.ok ? "valid" : "has errors"), " ",
    `${r.lines} lines read, ${r.valid} valid, ${(r.errors || []).length} with errors.`);
  const errors = r.errors || [];
  document.getElementById("report-errors").replaceChildren(errors.length
    ? el("div", { class: "table-wrap" }, el("table", { class: "data", id: "error-table" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Line"), el("th", { scope: "col" }, "Problem"))),
      el("tbody", {}, errors.map((e) => el("tr", { class: "bad" }, el("td", {}, String(e.line)), el("td", {}, e.message))))))
    : "");
  const preview = r.preview || [];
  document.getElementById("report-preview").replaceChildren(preview.length
    ? el("div", {}, el("h3", {}, `First ${preview.length} records as they will be stored`),
      el("pre", { class: "mono md" }, preview.map((p) => JSON.stringify(p)).join("\n")))
    : "");
}

fileInput.addEventListener("change", () => { checked = null; confirmBtn.disabled = true; report.hidden = true; notice(status, "", ""); });
form.addEventListener("change", (e) => { if (e.target.name === "what") { checked = null; confirmBtn.disabled = true; } });

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const file = fileInput.files[0];
  if (!file) { notice(status, "error", "Choose a .jsonl or .csv file first."); return; }
  notice(status, "info", "Checking every line…");
  confirmBtn.disabled = true;
  try {
    const { data } = await upload(what(), file, true);
    showReport(data);
    if (data.ok && data.valid > 0) {
      checked = { file, kind: what() };
      confirmBtn.disabled = false;
      confirmBtn.textContent = `Store ${data.valid} records`;
      notice(status, "ok", `All ${data.valid} records are valid. Nothing is stored yet: press "Store ${data.valid} records" to import them.`);
      confirmBtn.focus();
    } else if (data.ok) {
      notice(status, "warn", "The file holds no records.");
    } else {
      notice(status, "error", "Fix the lines listed below and check the file again; nothing was stored.");
    }
  } catch (err) {
    if (err.body && err.body.errors && err.body.lines !== undefined) showReport(err.body);
    notice(status, "error", err.message);
  }
});

confirmBtn.addEventListener("click", async () => {
  if (!checked) return;
  confirmBtn.disabled = true;
  notice(status, "info", "Storing…");
  try {
    const { data } = await upload(checked.kind, checked.file, false);
    showReport(data);
    notice(status, "ok", `Stored ${data.stored} records.`);
    checked = null;
    confirmBtn.textContent = "Store the records";
  } catch (err) {
    if (err.body && err.body.errors && err.body.lines !== undefined) showReport(err.body);
    notice(status, "error", `Nothing was stored: ${err.message}`);
    confirmBtn.disabled = false;
  }
});
