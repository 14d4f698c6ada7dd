import { startWork } from "./work.js";

const select = document.getElementById("category");
const label = document.getElementById("category-name");
const text = document.getElementById("prompt-text");

const pretty = (c) => (c || "").replaceAll("_", " ");

startWork({
  render(task, ctx, draft) {
    const cats = (task.project && task.project.categories) || [];
    const wanted = task.category || (task.prompt && task.prompt.category) || cats[0] || "other";
    select.replaceChildren(...[...new Set([wanted, ...cats])].map((c) => new Option(pretty(c), c)));
    select.value = (draft && draft.category) || wanted;
    label.textContent = pretty(wanted);
    text.value = (draft && draft.text) || "";
  },
  draftData: () => ({ text: text.value, category: select.value }),
  copyText: (data) => (data && data.text) || "",
  // The text fits any prompt-writing task; the category stays the one this task asks for.
  reuse(data) {
    if (data && data.text) text.value = data.text;
  },
  validate() {
    if (!text.value.trim()) return "Write the prompt before submitting.";
    return null;
  },
  collect: () => ({ messages: [{ role: "user", content: text.value }], category: select.value }),
});
