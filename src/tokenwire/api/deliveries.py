"""Where the last socket of a conversation stopped, for clients that reconnect without
saying where they were.

The seeds' apps keep the text of the reply being streamed across a reconnect and name no
resume point: seed 000's ``ConsultationWebSocketManager`` goes on appending ``stream_chunk``
to its accumulator, seed 004's ``ChatBackendClient`` to its ``streamingMessage``. Sending
the running reply from its start would double the text. So a socket that closes in the
middle of a reply leaves a note (the reply, the last seq written to it, when), and the next
socket of that conversation, opened within ``RECONNECT_WINDOW_S``, continues after that
seq. After the window a new socket is taken for a fresh start (the app reloaded its
history), and a running reply is sent whole.

The note is kept in this process at once, and in the conversation's private metadata, so
that a reconnect that lands on another instance, or comes after a restart, finds it too.
A reconnect can be quicker than the server is to notice that the old socket closed (the
seed 004 client retries at once): a new socket that finds another socket of its
conversation mid-reply in this process gives it a moment (``SIBLING_WAIT_S``) to close and
say where it stopped; a second device, whose sibling stays open, then gets the reply from
its start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection

from tokenwire.engine import Engine
from tokenwire.errors import TokenwireError
from tokenwire.ids import ConversationId, MessageId, UserId
from tokenwire.store.records import Conversation

__all__ = ["LEFT", "RECONNECT_WINDOW_S", "Left", "Notes", "Watch", "notes_of"]

log = logging.getLogger("tokenwire.ws")

LEFT = "_socket_left"  # conversation metadata (private: "_" keys never reach the model)
RECONNECT_WINDOW_S = 30.0  # the apps retry after 1, 2, 3, 4 and 5 s: 15 s in all
SIBLING_WAIT_S = 1.0


@dataclass(frozen=True, slots=True)
class Left:
    """A reply a socket stopped streaming: its id and the last seq written."""

    reply_id: MessageId
    seq: int


async def _rewrite(
    engine: Engine, user_id: UserId, cid: ConversationId, note: dict[str, Any] | None
) -> None:
    # Read just before writing: the metadata holds other things (a consultation's status).
    current = await engine.conversation(user_id, cid)
    metadata = {k: v for k, v in current.metadata.items() if k != LEFT}
    if note is not None:
        metadata[LEFT] = note
    elif LEFT not in current.metadata:
        return
    await engine.update_conversation(user_id, cid, metadata=metadata)


@dataclass(eq=False, slots=True)
class Watch:
    """One open socket's progress: the reply it is streaming and the last seq written."""

    current: tuple[MessageId, int] | None = None
    _closed: bool = False
    # Made only when a newer socket waits for this one to close (rarely): every open socket
    # holds a Watch, and an ``asyncio.Event`` keeps a deque of 0.7 KiB from the start.
    _done: asyncio.Future[None] | None = None

    def close(self) -> None:
        self._closed = True
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def wait_closed(self) -> None:
        if self._closed:
            return
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
        # Shielded: a waiter that gives up must not cancel the future for the others.
        await asyncio.shield(self._done)


class Notes:
    """The notes of one app (``notes_of``)."""

    def __init__(self) -> None:
        self._open: dict[ConversationId, set[Watch]] = {}
        self._left: dict[ConversationId, tuple[Left, float]] = {}

    def opened(self, cid: ConversationId, watch: Watch) -> None:
        """The socket of ``watch`` runs on ``cid``; ``closed`` must follow."""
        self._open.setdefault(cid, set()).add(watch)

    async def closed(
        self, engine: Engine, user_id: UserId, cid: ConversationId, watch: Watch
    ) -> None:
        """The socket of ``watch`` closed; mid-reply, it leaves its note."""
        if watch.current is None:
            self._forget(cid, watch)
            return
        reply_id, seq = watch.current
        now = time.monotonic()
        note = {"reply_id": reply_id, "seq": seq, "at": time.time()}
        try:
            # Stored before a newer socket waiting for this one is told: it clears the stored
            # note as it takes it, and a clear that ran before this write would leave the
            # note to a later socket, which would be sent the end of a reply it has.
            await _rewrite(engine, user_id, cid, note)
        except TokenwireError as exc:  # gone, or the store is down: this process still knows
            log.warning("could not note where the socket of %s stopped: %s", cid, exc)
        finally:
            self._left = {k: v for k, v in self._left.items() if now - v[1] <= RECONNECT_WINDOW_S}
            self._left[cid] = (Left(reply_id, seq), now)
            # Still counted open until here: a newer socket that came while the note was
            # written waits for it rather than start the reply over.
            self._forget(cid, watch)

    def _forget(self, cid: ConversationId, watch: Watch) -> None:
        sockets = self._open.get(cid, set())
        sockets.discard(watch)
        if not sockets:
            self._open.pop(cid, None)
        watch.close()

    async def take(self, engine: Engine, conversation: Conversation, watch: Watch) -> Left | None:
        """Where the new socket of ``watch`` continues, if the last one closed mid-reply
        within the window; the note is used up."""
        cid = conversation.id
        busy = [w for w in self._open.get(cid, ()) if w is not watch and w.current is not None]
        if busy:
            waits = [asyncio.ensure_future(w.wait_closed()) for w in busy]
            await asyncio.wait(waits, timeout=SIBLING_WAIT_S)
            for pending in waits:
                pending.cancel()
        here = self._left.pop(cid, None)
        stored = conversation.metadata.get(LEFT)
        if here is not None or stored is not None:
            with contextlib.suppress(TokenwireError):
                await _rewrite(engine, conversation.user_id, cid, None)
        if here is not None:
            left, at = here
            return left if time.monotonic() - at <= RECONNECT_WINDOW_S else None
        return _stored(stored)


def _stored(note: object) -> Left | None:
    if not isinstance(note, dict):
        return None
    try:
        at, reply_id, seq = float(note["at"]), str(note["reply_id"]), int(note["seq"])
    except (KeyError, TypeError, ValueError):
        return None
    if not 0 <= time.time() - at <= RECONNECT_WINDOW_S:
        return None
    return Left(MessageId(reply_id), seq)


def notes_of(conn: HTTPConnection) -> Notes:
    """The app's notes (one per app, made on first use)."""
    found: Notes | None = getattr(conn.app.state, "socket_notes", None)
    if found is None:
        found = conn.app.state.socket_notes = Notes()
    return found
