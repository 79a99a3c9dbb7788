// The message log on screen. Changes are drawn once per animation frame, and a streaming
// reply's text is revealed a few characters per frame so that it grows smoothly however the
// network bunches the deltas. The view follows the newest text unless the reader has
// scrolled up; then a "Latest" button brings them back.

import { Chat, FINAL } from "./chat.js";
import { contextNote, copyButton, editForm, iconButton, timeOf, versions } from "./controls.js";
import { copy } from "./copy.js";
import { announce, h, icon } from "./dom.js";
import { replyErrorText } from "./errors.js";
import { renderMarkdown } from "./markdown.js";
import { typeset } from "./math.js";

const STICK_PX = 48;
const IMAGE_URL = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]+$/;
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

function sortKey(message) {
  // Ids are UUIDv7, which sort by creation time; messages not yet acknowledged go last.
  return message.pending ? `~${message.id}` : message.id;
}

export class ChatView {
  constructor({ log, scroller, jump, onRetryReply, onContinueReply = () => {}, onEdit = () => {}, onVersion = () => {} }) {
    this.log = log;
    this.scroller = scroller;
    this.jump = jump;
    this.onRetryReply = onRetryReply; // regenerate
    this.onContinueReply = onContinueReply;
    this.onEdit = onEdit; // (question, text) => Promise: resend an edited question
    this.onVersion = onVersion; // (message id) => show that version
    this.editing = null; // the id of the question being edited
    this.nodes = new Map(); // message id -> {el, body, meta, shown, rendered, key}
    this.dirty = new Set();
    this.frame = null;
    this.stick = true;
    this.keep = null; // distance from the bottom to hold while older messages go in on top
    this.chat = null;
    this.unsubscribe = null;
    scroller.addEventListener("scroll", () => this.scrolled(), { passive: true });
    jump.addEventListener("click", () => this.toBottom(true));
    log.addEventListener("click", (event) => this.clicked(event));
  }

  /** Show `chat` (or nothing, for null), replacing whatever was shown. */
  bind(chat) {
    this.unsubscribe?.();
    this.log.replaceChildren();
    this.nodes.clear();
    this.dirty.clear();
    this.chat = chat;
    this.stick = true;
    this.jump.hidden = true;
    if (!chat) return;
    for (const message of chat.messages.values()) this.changed(message, "add");
    this.unsubscribe = chat.subscribe((message, change) => this.changed(message, change));
  }

  changed(message, change) {
    if (change === "remove" && this.editing === message.id) this.editing = null;
    if (change === "remove") {
      this.nodes.get(message.id)?.el.remove();
      this.nodes.delete(message.id);
      this.dirty.delete(message.id);
      return;
    }
    if (!this.nodes.has(message.id)) this.insert(message);
    this.dirty.add(message.id);
    this.schedule();
  }

  insert(message) {
    const node = this.create(message);
    // Text that was already there when the message appeared shows at once, not animated.
    node.shown = Chat.shown(message).length;
    this.nodes.set(message.id, node);
    let before = null;
    for (const other of this.nodes.values()) {
      if (other !== node && other.key > node.key && (!before || other.key < before.key)) {
        before = other;
      }
    }
    this.log.insertBefore(node.el, before ? before.el : null);
  }

  create(message) {
    const user = message.role === "user";
    const body = h("div", { class: user ? "msg-body plain" : "msg-body md" });
    const meta = h("div", { class: "msg-meta" });
    const label = h("span", { class: "visually-hidden" }, user ? "You said:" : "Assistant:");
    const el = h(
      "article",
      {
        class: `msg ${message.role}`,
        dataset: { role: message.role, messageId: message.id },
      },
      label,
    );
    if (user) {
      const images = h("div", { class: "msg-images" });
      const bubble = h("div", { class: "bubble" }, images, body);
      el.append(bubble, meta);
      return { el, body, meta, images, bubble, key: sortKey(message), rendered: null };
    }
    const typing = h(
      "div",
      { class: "typing", "aria-hidden": "true" },
      h("span"),
      h("span"),
      h("span"),
    );
    const note = h("div", { class: "msg-note" });
    el.append(
      h("div", { class: "avatar", "aria-hidden": "true" }),
      h("div", { class: "msg-main" }, note, body, typing, meta),
    );
    return { el, body, meta, note, typing, key: sortKey(message), rendered: null };
  }

  schedule() {
    if (this.frame !== null) return;
    // Hidden tabs get no animation frames; a timer keeps them current all the same.
    this.frame =
      document.visibilityState === "hidden"
        ? setTimeout(() => this.flush(), 100)
        : requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = null;
    const again = new Set();
    for (const id of this.dirty) {
      const message = this.chat?.get(id);
      const node = this.nodes.get(id);
      if (!message || !node) continue;
      if (this.draw(message, node)) again.add(id);
    }
    this.dirty = again;
    if (this.keep !== null) {
      this.scroller.scrollTop = this.scroller.scrollHeight - this.keep;
      this.keep = null;
    } else if (this.stick) this.toBottom(false);
    else this.jump.hidden = false;
    if (again.size) this.schedule();
  }

  /** Draw one message; true when its text is still being revealed. */
  draw(message, node) {
    const { el } = node;
    el.dataset.status = message.status;
    if (message.role === "user") {
      el.classList.toggle("pending", message.pending);
      if (node.rendered !== message.text) {
        node.body.textContent = message.text;
        node.rendered = message.text;
      }
      this.drawImages(message, node);
      const siblings = message.siblings ? `${message.siblings.index}/${message.siblings.ids.length}` : "";
      const state = `${message.pending}|${message.createdAt}|${siblings}|${this.editing === message.id}`;
      if (node.metaState !== state) {
        node.metaState = state;
        this.drawEditing(message, node);
        const parts = message.pending
          ? ["Sending…"]
          : [
              timeOf(message),
              versions(message),
              this.editing === message.id ? null : iconButton("edit", "Edit and resend", "pencil"),
              copyButton("Copy the message"),
            ];
        node.meta.replaceChildren(...parts.filter(Boolean));
      }
      return false;
    }
    const streaming = message.status === "streaming";
    el.setAttribute("aria-busy", streaming ? "true" : "false");
    const target = Chat.shown(message);
    let shown = Math.min(node.shown, target.length);
    if (shown < target.length) {
      if (reducedMotion.matches || document.visibilityState === "hidden") shown = target.length;
      else {
        const backlog = target.length - shown;
        shown += streaming ? Math.max(3, Math.ceil(backlog / 8)) : Math.max(24, Math.ceil(backlog / 3));
        shown = Math.min(shown, target.length);
        // Never cut a surrogate pair: half an emoji would flash as a replacement glyph.
        const code = target.charCodeAt(shown);
        if (shown < target.length && code >= 0xdc00 && code <= 0xdfff) shown += 1;
      }
    }
    node.shown = shown;
    const visible = target.slice(0, shown);
    if (visible !== node.rendered) {
      node.body.replaceChildren(renderMarkdown(visible));
      node.rendered = visible;
      typeset(node.body, () => {
        // KaTeX has loaded: draw this reply again, now with its math.
        node.rendered = null;
        this.dirty.add(message.id);
        this.schedule();
      });
    }
    const revealing = shown < target.length;
    el.classList.toggle("streaming", streaming || revealing);
    el.classList.toggle("empty", !visible);
    node.typing.hidden = !streaming;
    this.drawMeta(message, node, revealing);
    return revealing;
  }

  drawImages(message, node) {
    const urls = message.images.filter((url) => typeof url === "string" && IMAGE_URL.test(url));
    if (node.images.childElementCount === urls.length) return;
    node.images.replaceChildren(
      ...urls.map((url, n) => h("img", { src: url, alt: `Attached image ${n + 1}`, loading: "lazy" })),
    );
    node.images.hidden = urls.length === 0;
  }

  /** A question being edited shows the edit form in place of its bubble. */
  drawEditing(message, node) {
    const editing = this.editing === message.id;
    node.bubble.hidden = editing;
    if (!editing) {
      node.edit?.form.remove();
      node.edit = null;
      return;
    }
    if (node.edit) return;
    node.edit = editForm(message, {
      send: async (text) => {
        node.edit.form.classList.add("sending");
        try {
          await this.onEdit(message, text);
          this.stopEditing();
        } catch {
          node.edit?.form.classList.remove("sending"); // the error is shown by the caller
        }
      },
      cancel: () => this.stopEditing(true),
    });
    node.el.insertBefore(node.edit.form, node.meta);
    node.edit.area.focus();
    node.edit.area.setSelectionRange(message.text.length, message.text.length);
  }

  startEditing(message) {
    const previous = this.editing;
    this.editing = message.id;
    for (const id of [previous, message.id]) {
      if (id && this.nodes.has(id)) {
        this.dirty.add(id);
        this.nodes.get(id).metaState = undefined;
      }
    }
    this.schedule();
  }

  stopEditing(refocus = false) {
    const id = this.editing;
    this.editing = null;
    const node = id && this.nodes.get(id);
    if (!node) return;
    node.metaState = undefined;
    this.dirty.add(id);
    this.schedule();
    if (refocus) requestAnimationFrame(() => node.meta.querySelector('[data-action="edit"]')?.focus());
  }

  drawMeta(message, node, revealing) {
    const siblings = message.siblings ? `${message.siblings.index}/${message.siblings.ids.length}` : "";
    const state = `${message.status}|${message.queue}|${revealing}|${message.finishReason}|${message.createdAt}|${siblings}|${message.omittedTurns}`;
    if (node.metaState === state) return;
    const first = node.metaState === undefined;
    node.metaState = state;
    const parts = [];
    if (message.status === "streaming" && message.queue) {
      parts.push(h("span", { class: "queued" }, queueText(message.queue)));
    }
    node.note.replaceChildren(...(message.omittedTurns > 0 ? [contextNote(message.omittedTurns)] : []));
    if (message.status === "cancelled") {
      parts.push(
        h("span", { class: "tag tag-muted" }, "Stopped"),
        h("button", { type: "button", class: "btn btn-small", dataset: { action: "continue-reply" } }, "Continue"),
      );
      if (!first) announce("Reply stopped.");
    }
    if (message.status === "complete" && message.finishReason === "length" && !revealing) {
      // The model stopped at its token limit, mid-sentence: say so, and offer to go on.
      parts.push(
        h("span", { class: "tag tag-cut", title: "The reply reached the length limit" }, "Cut off"),
        h(
          "button",
          { type: "button", class: "btn btn-small", dataset: { action: "continue-reply" } },
          "Continue",
        ),
      );
      if (!first) announce("The reply was cut off at the length limit.");
    }
    if (message.status === "error" || message.status === "interrupted") {
      const text = replyErrorText(message.error);
      parts.push(
        h("p", { class: "reply-error" }, text),
        h(
          "button",
          { type: "button", class: "btn btn-small", dataset: { action: "retry-reply" } },
          icon("retry"),
          "Try again",
        ),
      );
      if (!first) announce(text);
    }
    if (FINAL.has(message.status) && !revealing) {
      parts.push(versions(message));
      if (message.status !== "error" && message.status !== "interrupted") {
        parts.push(iconButton("retry-reply", "Regenerate the reply", "retry"));
      }
      if (message.text) parts.push(copyButton("Copy the reply"));
    }
    parts.unshift(timeOf(message));
    node.meta.replaceChildren(...parts.filter(Boolean));
  }

  clicked(event) {
    const button = event.target.closest("button");
    if (!button || !this.log.contains(button)) return;
    const article = button.closest("article");
    const message = article && this.chat?.get(article.dataset.messageId);
    if (button.dataset.copy === "code") {
      const code = button.closest(".codeblock")?.querySelector("code");
      copy(code?.textContent ?? "", button, code);
    } else if (button.dataset.action === "copy" && message) {
      copy(message.text, button, this.nodes.get(message.id)?.body);
    } else if (button.dataset.action === "retry-reply" && message) {
      this.onRetryReply(message);
    } else if (button.dataset.action === "continue-reply" && message) {
      this.onContinueReply(message);
    } else if (button.dataset.action === "edit" && message) {
      this.startEditing(message);
    } else if (button.dataset.action === "version" && button.dataset.target) {
      this.onVersion(button.dataset.target);
    }
  }

  /** Hold what the reader sees in place while messages are added above it. */
  keepPosition() {
    this.keep = this.scroller.scrollHeight - this.scroller.scrollTop;
    this.stick = false;
  }

  scrolled() {
    const { scrollTop, scrollHeight, clientHeight } = this.scroller;
    this.stick = scrollHeight - scrollTop - clientHeight < STICK_PX;
    if (this.stick) this.jump.hidden = true;
  }

  /** Scroll to the newest text; `smooth` for a jump the reader asked for. */
  toBottom(smooth) {
    this.stick = true;
    this.jump.hidden = true;
    this.scroller.scrollTo({ top: this.scroller.scrollHeight, behavior: smooth ? "smooth" : "instant" });
  }
}

function queueText(position) {
  return position === 1 ? "Waiting for the model — you're next" : `Waiting for the model — ${position - 1} ahead`;
}
