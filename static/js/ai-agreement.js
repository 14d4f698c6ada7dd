// The AI labelers' agreement with the people, drawn beside the people's own: on the
// project's AI page and, for admins, on its quality page (#ai-agreement).
import { api, el, notice } from "./api.js";
import { forest, interval } from "./charts.js";

const pct = (v) => `${(v * 100).toFixed(0)}%`;

export function agreementView(a) {
  const rows = [
    { name: `${a.name} vs majority`, ...a.with_majority },
    { name: "people vs majority", ...a.humans_with_majority },
    ...a.with_humans.map((h) => ({ name: `vs ${h.name}`, ...h.agreement })),
  ];
  return el("div", { class: "ai-agreement" },
    el("p", { class: "small" },
      `On ${a.items} items judged by ${a.name} and by people: ${a.name} agrees with the people's majority on `,
      el("b", {}, interval(a.with_majority, pct)),
      " of the untied pairs; a person agrees with the other people's majority on ",
      el("b", {}, interval(a.humans_with_majority, pct)), " (95% intervals)."),
    forest(rows, `Agreement of ${a.name} with the people, beside the people's own`, { reference: 0.5 }));
}

export async function loadAgreement(target, labelerId) {
  try {
    const { data } = await api("GET", `/ai-labelers/${encodeURIComponent(labelerId)}/agreement`);
    target.replaceChildren(agreementView(data));
  } catch (err) {
    target.replaceChildren(el("p", { class: "notice error" }, err.message));
  }
}

async function qualityPage(root) {
  const status = root.querySelector(".notice");
  try {
    const { data } = await api("GET", `/ai-labelers?project=${encodeURIComponent(root.dataset.project)}`);
    if (!data.items.length) { root.hidden = true; return; }
    const body = root.querySelector(".ai-body");
    body.replaceChildren(...data.items.map((a) => {
      const target = el("div", {}, el("p", { class: "muted" }, "Counting…"));
      loadAgreement(target, a.id);
      return el("div", { class: "ai-card" }, el("h3", {}, a.name), target);
    }));
  } catch (err) {
    notice(status, "error", err.message);
  }
}

const onQuality = document.getElementById("ai-agreement");
if (onQuality) qualityPage(onQuality);
