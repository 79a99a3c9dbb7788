// The fallback when WebSocket is blocked: each streaming reply is followed on its own
// `GET /api/v1/messages/{id}/events?after=N`, read with fetch so that a failure has a
// status (the session cookie goes with it, as with every request of the page). The server replays the events after
// N, follows the reply live and closes at its end; a stream that breaks before the end is
// opened again after a backoff, after the last seq applied.

import { sleep } from "./backoff.js";

/** Parse an SSE byte stream (WHATWG HTML, "Server-sent events") into {event, data, id}. */
export async function* sseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let data = [];
  let type = "";
  let id = null;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (value) buffer += value;
      while (true) {
        const match = /\r\n|\r|\n/.exec(buffer);
        if (!match) break;
        // A lone CR at the end may be the first half of a CRLF still on its way.
        if (match[0] === "\r" && match.index === buffer.length - 1 && !done) break;
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === "") {
          if (data.length) yield { event: type || "message", data: data.join("\n"), id };
          data = [];
          type = "";
          continue;
        }
        if (line.startsWith(":")) continue; // a comment: the heartbeat
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let content = colon < 0 ? "" : line.slice(colon + 1);
        if (content.startsWith(" ")) content = content.slice(1);
        if (field === "data") data.push(content);
        else if (field === "event") type = content;
        else if (field === "id" && !content.includes("\0")) id = content;
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

export class SseFollower {
  /**
   * @param {object} options
   * @param {import("./api.js").Api} options.api
   * @param {(attempt: number) => number} options.backoff
   * @param {(messageId: string) => number} options.cursor   last seq applied of a reply
   * @param {(event: object) => void} options.onEvent
   * @param {(ok: boolean, error?: object) => void} options.onHealth   a stream opened or failed
   */
  constructor({ api, backoff, cursor, onEvent, onHealth }) {
    this.api = api;
    this.backoff = backoff;
    this.cursor = cursor;
    this.onEvent = onEvent;
    this.onHealth = onHealth;
    this.follows = new Map();
  }

  isFollowing(messageId) {
    return this.follows.has(messageId);
  }

  /** Follow a reply to its end, unless it is already being followed. */
  follow(messageId) {
    if (this.follows.has(messageId)) return;
    const controller = new AbortController();
    this.follows.set(messageId, controller);
    this.run(messageId, controller.signal).finally(() => {
      if (this.follows.get(messageId) === controller) this.follows.delete(messageId);
    });
  }

  async run(messageId, signal) {
    let attempt = 0;
    while (!signal.aborted) {
      try {
        const response = await fetch(this.api.eventsUrl(messageId, this.cursor(messageId)), {
          headers: this.api.headers({ Accept: "text/event-stream" }),
          cache: "no-store",
          credentials: "same-origin",
          signal,
        });
        if (!response.ok) {
          this.onHealth(false, { status: response.status });
          // 4xx other than 429 will not get better by asking again (the reply is gone).
          if (response.status >= 400 && response.status < 500 && response.status !== 429) return;
          throw new Error(`HTTP ${response.status}`);
        }
        this.onHealth(true);
        for await (const item of sseEvents(response.body)) {
          let event;
          try {
            event = JSON.parse(item.data);
          } catch {
            continue;
          }
          attempt = 0;
          this.onEvent(event);
          if (event.type === "message.end" || event.type === "message.error") return;
        }
        this.onHealth(false, {}); // closed before the reply's end: the server went away
      } catch (exc) {
        if (signal.aborted) return;
        if (exc instanceof TypeError) this.onHealth(false, { network: true });
      }
      if (signal.aborted) return;
      await sleep(this.backoff(attempt), signal);
      attempt += 1;
    }
  }

  close() {
    for (const controller of this.follows.values()) controller.abort();
    this.follows.clear();
  }
}
