// One open conversation: its messages, and the connection that keeps them current.
//
// WebSocket first. When the socket opens, every reply the page already knows to be
// streaming is resumed after the last seq applied: those replies started before this socket
// existed, so the server follows them only when asked, contiguously from that point. Replies
// that start while the socket is open arrive by themselves from seq 0. A reply the page
// learns of while the socket is open (history, a send's answer) is resumed from -1: if the
// socket already follows it, the server ignores the request; if not, the replay begins with
// message.start, which resets the text. Either way nothing is cut and nothing doubled.
//
// When the socket cannot open twice in a row while plain HTTP works, something between the
// browser and the server refuses WebSocket: the session falls back to SSE for good (one
// stream per streaming reply, after its last seq) and polls the history for replies started
// elsewhere.

import { ApiError } from "./api.js";
import { exponentialBackoff } from "./backoff.js";
import { Chat } from "./chat.js";
import { newId } from "./composer.js";
import { SocketConnection } from "./socket.js";
import { SseFollower } from "./sse.js";

const POLL_MS = 2500;
const PAGE = 50; // messages per history page; "Load earlier messages" fetches the next one

export class ConversationSession {
  constructor({ api, conversationId, leaf = null, transport, onStatus, onActivity, onGone, onFallback }) {
    this.api = api;
    this.id = conversationId;
    this.leaf = leaf; // open on the branch through this message (a search hit), not the current one
    this.transport = transport; // "ws" or "sse"
    this.onStatus = onStatus;
    this.onActivity = onActivity;
    this.onGone = onGone;
    this.onFallback = onFallback;
    this.backoff = exponentialBackoff({ base: 400, cap: 8000 });
    this.chat = new Chat(conversationId);
    this.socket = null;
    this.sse = null;
    this.pollTimer = null;
    this.closed = false;
    this.networkFailures = 0;
    this.earlier = undefined; // the next_before of the history's oldest page; null: none left
    this.onVisible = () => {
      if (document.visibilityState === "visible") this.socket?.reconnectNow();
    };
    document.addEventListener("visibilitychange", this.onVisible);
  }

  /** Load the history, then connect. When the server cannot be reached the connection still
   * starts: it retries with backoff and loads the history once it is through. */
  async open() {
    this.status("connecting");
    try {
      await this.refresh();
    } catch (exc) {
      if (!(exc instanceof ApiError) || !exc.network) throw exc; // 401 and 404 are handled
      this.networkFailures += 1;
      this.status("offline");
    }
    if (this.closed) return;
    if (this.transport === "ws") this.startSocket();
    else this.startSse();
  }

  status(state) {
    if (!this.closed) this.onStatus(state, this.transport);
  }

  /** Fetch the history and take what is new; returns the replies added still streaming. */
  async refresh() {
    try {
      const page = await this.api.messages(this.id, { limit: PAGE, leaf: this.leaf || undefined });
      this.networkFailures = 0;
      // Later refreshes read the newest page again; only the first one says what is older.
      if (this.earlier === undefined) this.earlier = page.next_before || null;
      // The branch shown may have changed elsewhere (another tab regenerated, edited or
      // moved between versions): what is not on it goes.
      return this.chat.replace(page.items, { keepOlder: true });
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 404) this.onGone();
      throw exc;
    }
  }

  // ---- WebSocket ------------------------------------------------------------------------

  startSocket() {
    this.socket = new SocketConnection({
      url: this.api.socketUrl(this.id),
      backoff: this.backoff,
      onEvent: (event) => this.received(event),
      onOpen: () => this.socketOpened(),
      onDrop: (info) => this.socketDropped(info),
      onFrameError: (frame) => {
        // The server could not follow a reply for us: the stored copy says where it stands.
        if (frame.message_id) this.refresh().catch(() => {});
      },
    });
    this.socket.start();
  }

  async socketOpened() {
    this.status("connected");
    // Known before this socket opened: the server follows these only when asked.
    for (const reply of this.chat.streaming()) this.socket.resume(reply.id, reply.seq);
    try {
      // Replies that started while no socket was open (another tab, a lost connection).
      for (const reply of await this.refresh()) this.socket?.resume(reply.id, -1);
    } catch (exc) {
      console.warn("tokenwire: history after reconnect", exc);
    }
  }

  async socketDropped({ opened, failures }) {
    this.status("reconnecting");
    if (opened) return true;
    try {
      await this.api.conversation(this.id);
    } catch (exc) {
      if (!(exc instanceof ApiError) || !exc.network) return false; // 401, 404: handled
      this.networkFailures += 1;
      if (!navigator.onLine || this.networkFailures >= 2) this.status("offline");
      return true;
    }
    this.networkFailures = 0;
    if (failures < 2) return true;
    // HTTP reaches the server with this session; only the WebSocket upgrade is refused.
    this.switchToSse();
    return false;
  }

  switchToSse() {
    this.socket?.close();
    this.socket = null;
    this.transport = "sse";
    this.onFallback();
    this.startSse();
  }

  received(event) {
    if (event.type === "message.start") {
      this.onActivity();
      if (this.startsAnotherBranch(event)) {
        // A new version of a message shown (a regenerate or an edit, perhaps in another
        // tab): the branch now ends there. Read it, then follow the new reply on it.
        this.leaf = null;
        this.reloadBranch().catch(() => {});
      }
    }
    const applied = this.chat.apply(event);
    if (!applied && !this.chat.get(event.message_id)) {
      // A reply we have not seen start: the history has it.
      this.refresh().catch(() => {});
    }
  }

  /** Whether a reply that starts is not the next one on the branch shown. */
  startsAnotherBranch(event) {
    if (this.chat.get(event.message_id)) return false;
    const question = event.user_message?.id || event.reply_to;
    const known = [...this.chat.messages.values()];
    // Another reply to the same question: a regenerate.
    if (known.some((m) => m.role === "assistant" && m.replyTo && m.replyTo === question)) return true;
    // A question under an earlier message than the last one: an edit resent.
    const parent = event.user_message?.parent_id;
    const last = known.filter((m) => !m.pending).at(-1);
    return parent !== undefined && last !== undefined && parent !== last.id && !this.chat.get(question);
  }

  /** Read the current branch afresh and show it (what is not on it goes); follow the
   * replies on it that stream. */
  async reloadBranch() {
    const page = await this.api.messages(this.id, { limit: PAGE, leaf: this.leaf || undefined });
    this.earlier = page.next_before || null;
    this.chat.replace(page.items);
    for (const reply of this.chat.streaming()) if (!reply.live) this.follow(reply.id);
    this.onBranch?.();
    return page;
  }

  // ---- SSE fallback ---------------------------------------------------------------------

  startSse() {
    this.sse = new SseFollower({
      api: this.api,
      backoff: this.backoff,
      cursor: (id) => this.chat.get(id)?.seq ?? -1,
      onEvent: (event) => this.received(event),
      onHealth: (ok, info) => {
        if (ok) this.status("connected");
        else if (info?.network && !navigator.onLine) this.status("offline");
        else this.status("reconnecting");
      },
    });
    if (this.networkFailures === 0) this.status("connected");
    this.followStreaming();
    this.pollTimer = setInterval(() => this.poll(), POLL_MS);
  }

  followStreaming() {
    for (const reply of this.chat.streaming()) this.sse.follow(reply.id);
  }

  async poll() {
    if (document.visibilityState === "hidden") return;
    try {
      await this.refresh();
      this.status("connected");
      this.followStreaming();
    } catch (exc) {
      if (exc instanceof ApiError && exc.network) {
        this.networkFailures += 1;
        this.status(!navigator.onLine || this.networkFailures >= 2 ? "offline" : "reconnecting");
      }
    }
  }

  // ---- actions --------------------------------------------------------------------------

  /** Send a draft {content, images, clientId}. Rejects with the ApiError when it fails. */
  async send({ content, images, clientId }) {
    this.chat.addPending({ clientId, content, images });
    let answer;
    try {
      answer = await this.api.send(this.id, { content, images, clientMessageId: clientId });
    } catch (exc) {
      this.chat.removePending(clientId);
      throw exc;
    }
    this.chat.ensureUser(answer.user_message);
    this.chat.absorb([answer.assistant_message]);
    const reply = this.chat.get(answer.assistant_message.id);
    if (reply && reply.status === "streaming") {
      if (this.transport === "sse") this.sse?.follow(reply.id);
      else if (this.socket?.isOpen && !reply.live) this.socket.resume(reply.id, -1);
    }
    this.onActivity();
    return answer;
  }

  /** Add the page of history before the oldest one shown; whether there is more. */
  async loadEarlier() {
    if (!this.earlier) return false;
    const page = await this.api.messages(this.id, { limit: PAGE, before: this.earlier });
    this.earlier = page.next_before || null;
    this.chat.absorb(page.items);
    return Boolean(this.earlier);
  }

  /** Ask the model to go on with a reply that was cut off; the text streams onto it. */
  async continueReply(reply) {
    const starts = this.chat.startsOf(reply.id);
    const answer = await this.api.continueReply(reply.id);
    if (this.chat.startsOf(reply.id) !== starts) {
      // The server pushes the reply on the socket as soon as it goes on, before it
      // answers: that stream came first and rebuilds the reply from its start, new text
      // included. The answer is older than what it shows, and the reply is followed.
      this.onActivity();
      return answer;
    }
    // The answer is the reply as stored, streaming again. It is followed from its start
    // (the stream begins with message.start, which resets, and the text so far stays on
    // screen until the stream has caught up with it): exact whichever stream, the one this
    // socket is pushed or the one asked for, arrives first.
    if (answer.status === "streaming") this.chat.reopen({ ...answer, seq: -1 });
    else this.chat.absorb([answer]);
    if (this.transport === "sse") this.sse?.follow(reply.id);
    else if (this.socket?.isOpen) this.socket.resume(reply.id, -1);
    this.onActivity();
    return answer;
  }

  /** A new version of a reply, beside it; the branch then ends with the new one. */
  async regenerate(reply) {
    const answer = await this.api.regenerate(reply.id);
    this.leaf = null;
    await this.reloadBranch();
    this.onActivity();
    return answer;
  }

  /** Send `content` in place of the user message `question`: a new branch from there. */
  async edit(question, content) {
    // Where it hangs in the tree: a question seen only in a stream's message.start may not
    // say; the stored copy does.
    const parentId =
      question.parentId !== undefined ? question.parentId : (await this.api.message(question.id)).parent_id;
    const answer = await this.api.send(this.id, {
      content,
      clientMessageId: newId(),
      images: question.images,
      parentId: parentId ?? null,
    });
    this.leaf = null;
    await this.reloadBranch();
    this.onActivity();
    return answer;
  }

  /** Show the version `id` of a message (one of its siblings) and what follows it. */
  async showVersion(id) {
    await this.api.switchBranch(this.id, id);
    this.leaf = null;
    await this.reloadBranch();
  }

  /** Follow a reply that is streaming again (or anew) over the current transport. */
  follow(id) {
    const reply = this.chat.get(id);
    if (!reply) return;
    if (this.transport === "sse") this.sse?.follow(id);
    else if (this.socket?.isOpen) this.socket.resume(id, reply.seq);
  }

  /** Stop the newest streaming reply; its partial text is kept. */
  async stop() {
    const reply = this.chat.streaming().at(-1);
    if (!reply) return null;
    const stored = await this.api.cancel(reply.id);
    this.chat.absorb([stored]);
    return stored;
  }

  close() {
    this.closed = true;
    this.socket?.close();
    this.sse?.close();
    clearInterval(this.pollTimer);
    document.removeEventListener("visibilitychange", this.onVisible);
  }
}
