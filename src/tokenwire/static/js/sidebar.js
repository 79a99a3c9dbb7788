// The conversation list: newest activity first, grouped by day, with rename and delete
// done in place (no browser dialogs).

import { ApiError } from "./api.js";
import { announce, h, icon } from "./dom.js";

export function titleOf(conversation) {
  return (conversation?.title || "").trim() || "New chat";
}

function group(updatedAt, now) {
  const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(now) - day(new Date(updatedAt))) / 86_400_000);
  if (days <= 0) return "Today";
  if (days === 1) return "Yesterday";
  if (days < 7) return "Previous 7 days";
  if (days < 30) return "Previous 30 days";
  return "Older";
}

export class Sidebar {
  constructor({ api, container, empty, onDeleted, onRenamed, onError }) {
    this.api = api;
    this.container = container;
    this.empty = empty;
    this.onDeleted = onDeleted;
    this.onRenamed = onRenamed;
    this.onError = onError;
    this.items = [];
    this.active = null;
    this.editing = null; // {id, mode: "rename" | "delete"}
  }

  get(id) {
    return this.items.find((c) => c.id === id) || null;
  }

  async refresh() {
    const page = await this.api.conversations();
    this.items = page.items;
    this.render();
  }

  /** Put a conversation first (it just had activity), adding it when new. */
  touch(conversation) {
    const now = new Date().toISOString();
    const known = this.get(conversation.id);
    this.items = [{ ...known, ...conversation, updated_at: now }, ...this.items.filter((c) => c.id !== conversation.id)];
    this.render();
  }

  setActive(id) {
    this.active = id;
    this.render();
  }

  render() {
    if (this.editing?.mode === "rename") return; // do not pull the input from under the typist
    this.editing = null;
    const now = new Date();
    const groups = new Map();
    for (const conversation of this.items) {
      const name = group(conversation.updated_at, now);
      if (!groups.has(name)) groups.set(name, []);
      groups.get(name).push(conversation);
    }
    const sections = [...groups].map(([name, list]) =>
      h(
        "section",
        { class: "conv-group" },
        h("h2", { class: "conv-group-title" }, name),
        h("ul", { class: "conv-list" }, list.map((c) => this.item(c))),
      ),
    );
    this.container.replaceChildren(...sections);
    this.empty.hidden = this.items.length > 0;
  }

  item(conversation, mode = null) {
    const title = titleOf(conversation);
    const current = conversation.id === this.active;
    const li = h("li", { class: "conv", dataset: { id: conversation.id } });
    if (current) li.classList.add("active");
    if (mode === "rename") {
      const input = h("input", {
        class: "conv-rename",
        value: title,
        maxlength: 200,
        "aria-label": "New name for the conversation",
      });
      let done = false;
      const finish = async (save) => {
        if (done) return;
        done = true;
        this.editing = null;
        const value = input.value.trim();
        if (save && value && value !== title) {
          try {
            const updated = await this.api.updateConversation(conversation.id, { title: value });
            Object.assign(conversation, updated);
            this.onRenamed(updated);
            announce(`Renamed to ${value}.`);
          } catch (exc) {
            this.onError(exc);
          }
        }
        this.render();
        this.focusItem(conversation.id, "rename");
      };
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          finish(true);
        } else if (event.key === "Escape") {
          event.preventDefault();
          event.stopPropagation();
          finish(false);
        }
      });
      input.addEventListener("blur", () => finish(true));
      li.append(input);
      return li;
    }
    if (mode === "delete") {
      li.classList.add("confirming");
      const cancel = () => {
        this.editing = null;
        this.render();
        this.focusItem(conversation.id, "delete");
      };
      li.append(
        h("span", { class: "conv-confirm" }, "Delete this chat?"),
        h(
          "button",
          {
            type: "button",
            class: "btn btn-small btn-danger",
            dataset: { action: "confirm-delete" },
            onclick: async () => {
              this.editing = null;
              try {
                await this.api.deleteConversation(conversation.id);
              } catch (exc) {
                if (!(exc instanceof ApiError && exc.status === 404)) {
                  this.onError(exc);
                  this.render();
                  return;
                }
              }
              this.items = this.items.filter((c) => c.id !== conversation.id);
              this.render();
              announce(`Deleted ${title}.`);
              this.onDeleted(conversation);
            },
            onkeydown: (event) => {
              if (event.key === "Escape") {
                event.stopPropagation();
                cancel();
              }
            },
          },
          "Delete",
        ),
        h("button", { type: "button", class: "btn btn-small", onclick: cancel }, "Cancel"),
      );
      return li;
    }
    li.append(
      h(
        "a",
        {
          class: "conv-link",
          href: `#/c/${encodeURIComponent(conversation.id)}`,
          "aria-current": current ? "page" : null,
          title,
        },
        title,
      ),
      h(
        "div",
        { class: "conv-actions" },
        h(
          "button",
          {
            type: "button",
            class: "icon-btn icon-btn-small",
            dataset: { action: "rename" },
            "aria-label": `Rename “${title}”`,
            title: "Rename",
            onclick: () => this.edit(conversation, "rename"),
          },
          icon("pencil"),
        ),
        h(
          "button",
          {
            type: "button",
            class: "icon-btn icon-btn-small",
            dataset: { action: "delete" },
            "aria-label": `Delete “${title}”`,
            title: "Delete",
            onclick: () => this.edit(conversation, "delete"),
          },
          icon("trash"),
        ),
      ),
    );
    return li;
  }

  edit(conversation, mode) {
    this.editing = { id: conversation.id, mode };
    const old = this.container.querySelector(`li[data-id="${CSS.escape(conversation.id)}"]`);
    const replacement = this.item(conversation, mode);
    old.replaceWith(replacement);
    const target = replacement.querySelector(mode === "rename" ? "input" : "[data-action=confirm-delete]");
    target.focus();
    if (mode === "rename") target.select();
  }

  focusItem(id, action) {
    this.container.querySelector(`li[data-id="${CSS.escape(id)}"] [data-action="${action}"]`)?.focus();
  }
}
