// The search box at the top of the conversation list: `GET /api/v1/search` as the user types
// (a quarter of a second after the last key), hits in place of the list, best first. A hit
// opens its conversation on the branch of the message found (`#/c/<id>/m/<message id>`).
// Esc, or emptying the box, brings the list back.

import { ApiError } from "./api.js";
import { h } from "./dom.js";
import { sendErrorText } from "./errors.js";

const DELAY_MS = 250;

export class Search {
  constructor({ api, input, results, list }) {
    this.api = api;
    this.input = input;
    this.results = results; // where hits go
    this.list = list; // what they replace while a query is on
    this.timer = null;
    this.asked = 0; // answers to older queries are dropped
    input.addEventListener("input", () => this.changed());
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && input.value) {
        event.preventDefault();
        event.stopPropagation();
        this.clear();
      }
    });
  }

  clear() {
    this.input.value = "";
    this.changed();
  }

  changed() {
    clearTimeout(this.timer);
    const query = this.input.value.trim();
    this.list.hidden = Boolean(query);
    this.results.hidden = !query;
    if (!query) {
      this.results.replaceChildren();
      return;
    }
    this.timer = setTimeout(() => this.run(query), DELAY_MS);
  }

  async run(query) {
    const asked = ++this.asked;
    let answer;
    try {
      answer = await this.api.search(query);
    } catch (exc) {
      if (asked !== this.asked) return;
      const text = exc instanceof ApiError ? sendErrorText(exc) : String(exc.message || exc);
      this.results.replaceChildren(h("p", { class: "search-empty", role: "status" }, text));
      return;
    }
    if (asked !== this.asked) return;
    const hits = answer.items || [];
    if (!hits.length) {
      this.results.replaceChildren(h("p", { class: "search-empty", role: "status" }, `Nothing found for “${query}”.`));
      return;
    }
    this.results.replaceChildren(
      h("p", { class: "visually-hidden", role: "status" }, `${hits.length} found.`),
      h("ul", { class: "search-hits" }, hits.map((hit) => this.hit(hit))),
    );
  }

  hit(hit) {
    const cid = encodeURIComponent(hit.conversation_id);
    const href = hit.message_id ? `#/c/${cid}/m/${encodeURIComponent(hit.message_id)}` : `#/c/${cid}`;
    const who = hit.message_id ? (hit.role === "user" ? "You" : "Assistant") : "Title";
    return h(
      "li",
      {},
      h(
        "a",
        { class: "search-hit", href, dataset: { conversationId: hit.conversation_id } },
        h("span", { class: "search-title" }, (hit.conversation_title || "").trim() || "New chat"),
        h("span", { class: "search-snippet" }, h("span", { class: "search-who" }, `${who}: `), hit.snippet || ""),
      ),
    );
  }
}
