// The small controls around a message: its time, the copy, edit and regenerate buttons, the
// "‹ 2 / 3 ›" arrows between its versions, the form that edits a question, and the note
// that older turns no longer fit the model's context. view.js puts them in place; the
// buttons carry a data-action that view.js dispatches on.

import { h, icon } from "./dom.js";

export function iconButton(action, label, name, extra = {}) {
  return h(
    "button",
    { type: "button", class: "icon-btn icon-btn-small msg-action", dataset: { action, ...extra }, "aria-label": label, title: label },
    icon(name),
  );
}

export function copyButton(label) {
  const button = iconButton("copy", label, "copy");
  button.classList.add("msg-copy");
  button.title = "Copy";
  return button;
}

const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const DAY = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const FULL = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

/** When the message was written: the time (and the day, if not today), shown on hover or
 * focus, the full date in its title and `datetime`. */
export function timeOf(message) {
  const when = message.createdAt ? new Date(message.createdAt) : null;
  if (!when || Number.isNaN(when.getTime())) return null;
  const today = when.toDateString() === new Date().toDateString();
  return h(
    "time",
    { class: "msg-time", datetime: when.toISOString(), title: FULL.format(when) },
    today ? CLOCK.format(when) : `${DAY.format(when)}, ${CLOCK.format(when)}`,
  );
}

/** "‹ 2 / 3 ›" for a message with other versions (siblings), else null. */
export function versions(message) {
  const siblings = message.siblings;
  if (!siblings || !Array.isArray(siblings.ids) || siblings.ids.length < 2) return null;
  const { ids, index } = siblings;
  const what = message.role === "user" ? "message" : "reply";
  const arrow = (step, label, glyph) => {
    const target = ids[index + step];
    return h(
      "button",
      {
        type: "button",
        class: "icon-btn icon-btn-small version-btn",
        dataset: target ? { action: "version", target } : {},
        disabled: !target,
        "aria-label": label,
        title: label,
      },
      glyph,
    );
  };
  return h(
    "span",
    { class: "versions", role: "group", "aria-label": `Version ${index + 1} of ${ids.length} of this ${what}` },
    arrow(-1, `Previous version of this ${what}`, "‹"),
    h("span", { class: "versions-count", "aria-hidden": "true" }, `${index + 1} / ${ids.length}`),
    arrow(1, `Next version of this ${what}`, "›"),
  );
}

/** The form that edits a question in place; `send(text)` resends it, `cancel()` leaves. */
export function editForm(message, { send, cancel }) {
  const area = h("textarea", { class: "edit-input", rows: "3", "aria-label": "Edit your message" });
  area.value = message.text;
  const form = h(
    "form",
    { class: "edit-form" },
    area,
    h(
      "div",
      { class: "edit-actions" },
      h("button", { type: "button", class: "btn btn-small", dataset: { role: "cancel" } }, "Cancel"),
      h("button", { type: "submit", class: "btn btn-small btn-primary" }, "Send"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (area.value.trim()) send(area.value);
  });
  form.querySelector("[data-role=cancel]").addEventListener("click", cancel);
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      cancel();
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  return { form, area };
}

/** The quiet note above a reply whose prompt left out the oldest turns. */
export function contextNote(turns) {
  const what = turns === 1 ? "the first turn" : `the first ${turns} turns`;
  return h(
    "p",
    { class: "context-note", role: "note" },
    `The model did not see ${what} of this conversation: they no longer fit its context.`,
  );
}
