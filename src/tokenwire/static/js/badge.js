// The connection badge in the header: whether replies reach the page live, and how
// (WebSocket, or server-sent events where WebSocket is refused).

import { byId } from "./dom.js";

const BADGE_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/** Show `state` (connecting, connected, reconnecting, offline) over `transport` ("ws" or "sse"). */
export function showBadge(state, transport) {
  const badge = byId("badge");
  badge.dataset.state = state;
  badge.dataset.transport = transport;
  let text = BADGE_TEXT[state] || state;
  if (state === "connected" && transport === "sse") text = "Connected · SSE";
  byId("badge-text").textContent = text;
  badge.title =
    transport === "sse"
      ? "WebSocket is blocked on this network; replies stream over server-sent events."
      : "Live updates over WebSocket.";
  document.body.dataset.transport = transport;
}
