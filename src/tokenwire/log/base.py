"""The ``EventLog`` seam.

One writer (the run that owns a reply) appends events with consecutive seqs from 0;
any number of readers read from their last seq, first the events already there, then the
new ones as they come, until the terminal event. After a reply ends, its events are kept
for a TTL; past that, readers get ``LogMiss`` and the engine replays from the store.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from tokenwire.errors import Unavailable
from tokenwire.ids import ConversationId, MessageId
from tokenwire.log.delivery import Deliver
from tokenwire.protocol.events import Event


@dataclass(frozen=True, slots=True)
class Fence:
    """A condition on an append: ``key`` must hold ``holder`` (the writer's lease). A log
    shared by several instances refuses a fenced append whose condition fails, with
    ``tokenwire.errors.LeaseLost``, in the same atomic step as the append: an owner that
    stalled past its lease cannot write after the instance that took the reply over."""

    key: str
    holder: str


class LogMiss(LookupError):
    """The log holds nothing for this message (never written here, or expired)."""


class StreamLost(Unavailable):
    """The log lost events of a reply that is still being written: a Redis restarted empty,
    or from a file older than its last writes. The writer, which alone knows what it
    appended, ends the reply with its whole text in the store; readers, who find the stream
    gone, finish from there."""


class EventLog(Protocol):
    async def append(self, event: Event, *, fence: Fence | None = None) -> None:
        """Add ``event`` (its seq is the next one) and wake the readers. A terminal event
        closes the stream and starts its TTL. ``fence``: see ``Fence``."""
        ...

    def read(self, message_id: MessageId, after: int, *, batch: int) -> AsyncGenerator[list[Event]]:
        """Batches of up to ``batch`` events with seq > ``after``, in order, ending after the
        terminal event. Raises ``LogMiss`` on the first iteration if the log has no record."""
        ...

    async def relay(
        self, message_id: MessageId, after: int, deliver: Deliver, *, batch: int
    ) -> None:
        """What ``read`` yields, handed to ``deliver`` instead, until the terminal event. A
        log that can calls it from the appender's task for a follower that has caught up
        (``log/delivery.py``). Raises ``LogMiss`` as ``read`` does."""
        ...

    async def reopen(self, message_id: MessageId, events: Sequence[Event]) -> None:
        """Make the reply's stream hold exactly ``events`` (seqs 0..n-1, none terminal), open
        for appends again: a reply that ended is being continued."""
        ...

    async def announce(self, conversation_id: ConversationId, message_id: MessageId) -> None:
        """Tell every watcher of the conversation that a reply started."""
        ...

    def watch(
        self, conversation_id: ConversationId
    ) -> AbstractAsyncContextManager[AsyncIterator[MessageId]]:
        """Within the block, the ids of replies that start in the conversation. The watch is
        registered when the block is entered, so no announcement after that is missed."""
        ...

    async def close(self) -> None: ...
