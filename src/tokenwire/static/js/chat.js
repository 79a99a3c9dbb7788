// The messages of one conversation, and the two rules that keep a streamed reply exact
// (docs/ARCHITECTURE.md, "WebSocket"): `message.start` resets a message's text, and an
// event whose seq is not above the last one applied is dropped. Every stream the page reads
// is contiguous from the point it was opened at, so applying these rules to it rebuilds
// the stored text byte for byte.

export const FINAL = new Set(["complete", "cancelled", "error", "interrupted"]);

const PENDING = "pending:";

function fromJson(item) {
  return {
    id: item.id,
    role: item.role,
    text: item.content || "",
    seq: typeof item.seq === "number" ? item.seq : -1,
    status: item.role === "assistant" ? item.status : "complete",
    error: item.error || null,
    finishReason: item.finish_reason || null,
    images: Array.isArray(item.images) ? item.images : [],
    clientId: item.client_message_id || null,
    replyTo: item.reply_to || null,
    // The message before it on its branch (null: the first); undefined when not known yet.
    parentId: item.parent_id === undefined ? undefined : item.parent_id,
    siblings: item.siblings || null, // {ids, index}: the versions "‹ 2 / 3 ›" moves between
    omittedTurns: item.metadata?.context?.omitted_turns || 0,
    model: item.model || null,
    createdAt: item.created_at || null,
    queue: null,
    floor: "",
    pending: false,
    live: false, // fed by a stream (some event applied), not only by snapshots
  };
}

export class Chat {
  constructor(conversationId) {
    this.id = conversationId;
    this.messages = new Map();
    this.listeners = new Set();
    // Per reply, how many streams of it have begun here (message.start applied); kept
    // apart from the message, which a snapshot replaces whole.
    this.starts = new Map();
  }

  /** Call `fn(message, change)` on every change; change is "add", "update" or "remove". */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(message, change) {
    for (const fn of this.listeners) fn(message, change);
  }

  get(id) {
    return this.messages.get(id);
  }

  /** How many streams of the reply `id` have begun here: one more means its text was
   * taken again from the start since the count was read. */
  startsOf(id) {
    return this.starts.get(id) || 0;
  }

  /** Replies still streaming, oldest first. */
  streaming() {
    return [...this.messages.values()].filter((m) => m.role === "assistant" && m.status === "streaming");
  }

  /**
   * Show the branch `items` (oldest first): messages not on it go, the others are taken as
   * `absorb` takes them. Messages older than `items` stay when `keepOlder` (a partial page).
   */
  replace(items, { keepOlder = false } = {}) {
    const wanted = new Set(items.map((item) => item.id));
    const oldest = items.length ? items[0].id : null;
    for (const message of [...this.messages.values()]) {
      if (message.pending || wanted.has(message.id)) continue;
      if (keepOlder && oldest !== null && message.id < oldest) continue;
      this.messages.delete(message.id);
      this.emit(message, "remove");
    }
    for (const item of items) {
      const known = this.messages.get(item.id);
      if (known && item.siblings) {
        // Where a message stands among its versions can change while it stays the same.
        known.siblings = item.siblings;
        known.parentId = item.parent_id;
        this.emit(known, "update");
      }
    }
    return this.absorb(items);
  }

  /** The user's message shown at once, before the server has acknowledged it. */
  addPending({ clientId, content, images }) {
    const message = {
      ...fromJson({
        id: PENDING + clientId,
        role: "user",
        content,
        images,
        client_message_id: clientId,
        created_at: new Date().toISOString(),
      }),
      pending: true,
    };
    this.messages.set(message.id, message);
    this.emit(message, "add");
    return message;
  }

  removePending(clientId) {
    const message = this.messages.get(PENDING + clientId);
    if (message) {
      this.messages.delete(message.id);
      this.emit(message, "remove");
    }
  }

  /** A user message the server acknowledged (from history, a send, or message.start). */
  ensureUser(item) {
    if (item.client_message_id) this.removePending(item.client_message_id);
    const known = this.messages.get(item.id);
    if (known) {
      if (known.parentId === undefined && item.parent_id !== undefined) known.parentId = item.parent_id;
      if (!known.siblings && item.siblings) known.siblings = item.siblings;
      // message.start does not carry images; the stored message does.
      if (item.images && item.images.length && !known.images.length) {
        known.images = item.images;
        this.emit(known, "update");
      }
      return known;
    }
    const message = fromJson({ ...item, role: "user" });
    this.messages.set(message.id, message);
    this.emit(message, "add");
    return message;
  }

  /**
   * Take messages from the history (or from a send or cancel answer). A message the page
   * does not know is added as stored. A known one is replaced only when the stored copy is
   * final and ours is not: the stored text of an ended reply is the truth. A known reply
   * still streaming keeps its own state: it is fed by a stream, and mixing a snapshot into
   * it could repeat or skip text. Returns the replies that were added still streaming.
   */
  absorb(items) {
    const added = [];
    for (const item of items) {
      if (item.role === "user") {
        this.ensureUser(item);
        continue;
      }
      if (item.role !== "assistant") continue;
      const known = this.messages.get(item.id);
      if (!known) {
        const message = fromJson(item);
        this.messages.set(message.id, message);
        this.emit(message, "add");
        if (message.status === "streaming") added.push(message);
      } else if (FINAL.has(item.status) && !FINAL.has(known.status)) {
        Object.assign(known, fromJson(item), { floor: "" });
        this.emit(known, "update");
      }
    }
    return added;
  }

  /** Apply one canonical event. Returns false when it was dropped or names an unknown reply. */
  apply(event) {
    const known = this.messages.get(event.message_id);
    if (event.type === "message.start") {
      if (event.user_message) {
        this.ensureUser({ ...event.user_message, role: "user" });
      }
      const message =
        known ||
        fromJson({
          id: event.message_id,
          role: "assistant",
          status: "streaming",
          seq: -1,
          reply_to: event.reply_to,
          model: event.model,
          created_at: new Date().toISOString(),
        });
      // Reset: the stream that sent this start goes on contiguously from seq 0. What was
      // shown stays on screen (the floor) until the new text has caught up with it.
      if (message.text.length > message.floor.length) message.floor = message.text;
      Object.assign(message, {
        text: "",
        seq: 0,
        status: "streaming",
        error: null,
        queue: null,
        finishReason: null,
        live: true,
      });
      if (event.context?.omitted_turns) message.omittedTurns = event.context.omitted_turns;
      if (!known) this.messages.set(message.id, message);
      this.starts.set(message.id, this.startsOf(message.id) + 1);
      this.emit(message, known ? "update" : "add");
      return true;
    }
    if (!known || event.seq <= known.seq) return false;
    known.seq = event.seq;
    known.live = true;
    switch (event.type) {
      case "message.queued":
        known.queue = event.position;
        break;
      case "message.delta":
        known.text += event.text;
        known.queue = null;
        break;
      case "message.end":
        known.status = event.finish_reason === "cancelled" ? "cancelled" : "complete";
        known.finishReason = event.finish_reason;
        known.queue = null;
        known.floor = "";
        break;
      case "message.error":
        known.status = event.error?.code === "interrupted" ? "interrupted" : "error";
        known.error = event.error || null;
        known.queue = null;
        known.floor = "";
        break;
      default:
        return false;
    }
    this.emit(known, "update");
    return true;
  }

  /**
   * A reply going on (continue): its stored state, `seq` being the last event its text
   * includes, so that following it after that seq adds exactly the new text.
   */
  reopen(item) {
    const known = this.messages.get(item.id);
    if (!known) return this.absorb([item]);
    Object.assign(known, fromJson(item), { floor: "", live: false });
    this.emit(known, "update");
    return [known];
  }

  /** The text to show: the stream's, or the older text it is still rebuilding. */
  static shown(message) {
    return message.text.length >= message.floor.length ? message.text : message.floor;
  }
}
