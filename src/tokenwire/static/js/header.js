// The open chat's header: its title and persona. A new conversation has no title until the
// server writes one from the first exchange, in the background, once the first reply ends.

import { byId } from "./dom.js";
import { humanize } from "./personas.js";
import { titleOf } from "./sidebar.js";

/** Show `conversation` in the header and the tab's title; null: a new chat. */
export function showHeader(conversation) {
  byId("chat-title").textContent = conversation ? titleOf(conversation) : "New chat";
  document.title = conversation ? `${titleOf(conversation)} · tokenwire` : "tokenwire";
  const tag = byId("chat-persona");
  tag.hidden = !conversation?.persona;
  tag.textContent = conversation?.persona ? humanize(conversation.persona) : "";
}

/** Ask for the title of conversation `id` a few times, spaced out; `onTitle(conversation)`
 * once it has one. Nothing when the list has its title already, or the server is away. */
export async function awaitTitle({ api, sidebar, id, onTitle }) {
  for (const wait of [700, 1500, 3000, 6000]) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    if (sidebar.get(id)?.title) return;
    let conversation;
    try {
      conversation = await api.conversation(id);
    } catch {
      return;
    }
    if (conversation.title) {
      onTitle(conversation);
      return;
    }
  }
}
