"""Where the last socket of a conversation stopped, for clients that reconnect without
saying where they were.

The seeds' apps keep the text of the reply being streamed across a reconnect and name no
resume point: seed 000's ``ConsultationWebSocketManager`` goes on appending ``stream_chunk``
to its accumulator, seed 004's ``ChatBackendClient`` to its ``streamingMessage``. Sending
the running reply from its start would double the text. So a socket that closes in the
middle of a reply leaves a note here (the reply and the last seq written to it), and the
next socket of that conversation, opened within ``window_s``, continues after that seq.
After the window a new socket is taken for a fresh start (the app reloaded its history),
and a running reply is sent whole.

Per process: a reconnect that lands on another instance starts the reply over (use sticky
sessions for these clients behind a load balancer; docs/deploy.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from tokenwire.ids import ConversationId, MessageId

__all__ = ["Deliveries", "Left", "deliveries_of"]

RECONNECT_WINDOW_S = 30.0  # the apps retry after 1, 2, 3, 4 and 5 s: 15 s in all
_MAX_NOTES = 10_000


@dataclass(frozen=True, slots=True)
class Left:
    """A reply a socket stopped streaming: its id and the last seq written."""

    reply_id: MessageId
    seq: int
    at: float


class Deliveries:
    def __init__(
        self,
        window_s: float = RECONNECT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self._clock = clock
        self._left: dict[ConversationId, Left] = {}

    def left(self, conversation_id: ConversationId, reply_id: MessageId, seq: int) -> None:
        """A socket of ``conversation_id`` closed after writing ``seq`` of ``reply_id``."""
        now = self._clock()
        if len(self._left) >= _MAX_NOTES:
            self._left = {k: v for k, v in self._left.items() if now - v.at <= self.window_s}
        self._left[conversation_id] = Left(reply_id, seq, now)

    def take(self, conversation_id: ConversationId) -> Left | None:
        """Where a new socket of ``conversation_id`` continues, if the last one closed
        mid-reply within the window; the note is used up."""
        note = self._left.pop(conversation_id, None)
        if note is None or self._clock() - note.at > self.window_s:
            return None
        return note


def deliveries_of(conn: HTTPConnection) -> Deliveries:
    """The app's notes (one per app, made on first use)."""
    found: Deliveries | None = getattr(conn.app.state, "deliveries", None)
    if found is None:
        found = conn.app.state.deliveries = Deliveries()
    return found
