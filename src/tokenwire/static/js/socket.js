// The conversation's WebSocket (`/api/v1/conversations/{id}/ws`): it carries every reply
// that starts in the conversation while it is open, and any reply it is asked to follow
// with `stream.resume`. When it drops, it reconnects after a backoff; what to resume is the
// caller's business (it knows the last seq it applied of each reply).

const PING_EVERY_MS = 20_000;
const SILENCE_LIMIT_MS = 45_000; // no frame at all, not even a pong: the socket is dead

export class SocketConnection {
  /**
   * @param {object} options
   * @param {string} options.url            ws:// or wss:// URL (the session cookie goes with the upgrade)
   * @param {(attempt: number) => number} options.backoff   delay before each reconnect
   * @param {(event: object) => void} options.onEvent        a canonical event arrived
   * @param {() => void} options.onOpen                      (re)connected
   * @param {(info: {opened: boolean, failures: number}) => Promise<boolean>} options.onDrop
   *        the socket closed or could not open; resolve true to try again after the backoff
   */
  constructor({ url, backoff, onEvent, onOpen, onDrop, onFrameError = () => {} }) {
    this.url = url;
    this.backoff = backoff;
    this.onEvent = onEvent;
    this.onOpen = onOpen;
    this.onDrop = onDrop;
    this.onFrameError = onFrameError;
    this.ws = null;
    this.attempt = 0;
    this.failuresBeforeOpen = 0;
    this.closed = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastFrameAt = 0;
    this.handleOnline = () => this.reconnectNow();
    window.addEventListener("online", this.handleOnline);
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  start() {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    let opened = false;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      opened = true;
      this.attempt = 0;
      this.failuresBeforeOpen = 0;
      this.lastFrameAt = Date.now();
      this.pingTimer = setInterval(() => this.heartbeat(), PING_EVERY_MS);
      this.onOpen();
    });
    ws.addEventListener("message", (message) => {
      if (ws !== this.ws) return; // a frame from a socket we already gave up on
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.type === "pong") return;
      if (frame.type === "error") this.onFrameError(frame);
      else if (typeof frame.type === "string" && frame.type.startsWith("message.")) this.onEvent(frame);
    });
    ws.addEventListener("close", () => this.dropped(ws, opened));
  }

  heartbeat() {
    if (!this.isOpen) return;
    if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
      this.ws.close(4000, "heartbeat timeout"); // a half-open connection: start over
      return;
    }
    this.send({ type: "ping" });
  }

  async dropped(ws, opened) {
    if (ws !== this.ws) return;
    clearInterval(this.pingTimer);
    this.ws = null;
    if (this.closed) return;
    if (!opened) this.failuresBeforeOpen += 1;
    const again = await this.onDrop({ opened, failures: this.failuresBeforeOpen });
    if (!again || this.closed || this.ws !== null) return;
    const delay = opened ? 0 : this.backoff(this.attempt);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.start(), delay);
  }

  /** Skip the rest of the backoff (the browser came back online, the user asked). */
  reconnectNow() {
    if (this.closed || this.ws !== null || this.retryTimer === null) return;
    this.start();
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Follow `messageId` from after `after`; -1 replays it from its start. */
  resume(messageId, after) {
    return this.send({ type: "stream.resume", message_id: messageId, after });
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    window.removeEventListener("online", this.handleOnline);
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "done");
  }
}
