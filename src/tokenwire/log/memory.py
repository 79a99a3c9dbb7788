"""The in-process event log: the default for one instance.

Events of a reply live in a list indexed by seq. A reader keeps only a cursor into that
list, so a slow reader costs the writer nothing and holds no buffer of its own: when it
comes back it takes everything pending at once, and the subscriber merges the deltas.

Readers at the same cursor get the same ``Batch`` object (``log/batch.py``), so what they
derive from it (coalesced events, encoded bytes) is derived once for all of them.

A follower that relays (``relay``) and has caught up is a tap: the append hands it the new
events then and there, from the appender's task (``log/delivery.py``).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from tokenwire.ids import ConversationId, MessageId
from tokenwire.log.base import Fence, LogMiss
from tokenwire.log.batch import Batch
from tokenwire.log.delivery import Deliver, abandon
from tokenwire.log.watchers import Watchers
from tokenwire.protocol.events import Event, is_terminal


@dataclass(slots=True)
class _Tap:
    """A follower that has caught up, handed each append's events by the appender."""

    cursor: int  # the index of the next event it gets
    deliver: Deliver
    # The follower's own context, so that what ``deliver`` does (a log line, a metric)
    # belongs to its connection, not to the appender's.
    context: contextvars.Context
    # Set when the log stops pushing to it: to the write it left pending (its connection was
    # full), or to None once it had the terminal event.
    off: asyncio.Future[Awaitable[None] | None]


@dataclass(slots=True)
class _Stream:
    events: list[Event] = field(default_factory=list)
    closed: bool = False
    # One future per waiting reader: a reader that goes away (its task cancelled) cancels
    # only its own, and waking costs one set_result per reader, with no shield around it.
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    expiry: asyncio.TimerHandle | None = None
    # The batches handed out since the last append, by their first index: all end at the
    # current end, so there is at most one per cursor readers are at.
    shared: dict[int, Batch] = field(default_factory=dict)
    taps: list[_Tap] = field(default_factory=list)

    def batch(self, start: int, size: int) -> Batch:
        """Events ``start`` up to ``size`` of them: the batch other readers at ``start`` got,
        when it is the same."""
        end = min(len(self.events), start + size)
        found = self.shared.get(start)
        if found is None or len(found) != end - start:
            found = self.shared[start] = Batch(self.events[start:end])
        return found

    def wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        if self.taps:
            self.push()

    def push(self) -> None:
        """Hand every tap the events appended since its last: one function call each, in
        the appender's task. A tap whose write has to wait, or that has the terminal event,
        or whose ``deliver`` failed, is taken off and its own task told."""
        kept: list[_Tap] = []
        end = len(self.events)
        for tap in self.taps:
            if tap.off.done():  # its task went away
                continue
            if tap.cursor >= end:  # it resumed past the end so far
                if self.closed:
                    tap.off.set_result(None)
                else:
                    kept.append(tap)
                continue
            chunk = self.batch(tap.cursor, end - tap.cursor)
            tap.cursor = end
            try:
                pending = tap.context.run(tap.deliver, chunk)
            except Exception as exc:
                tap.off.set_exception(exc)
                continue
            if pending is not None or self.closed:
                tap.off.set_result(pending)
            else:
                kept.append(tap)
        self.taps = kept

    async def tapped(self, cursor: int, deliver: Deliver) -> int:
        """Be a tap from ``cursor`` (the end, or past it) until the log stops pushing to it;
        the cursor then, once the write it left pending is done."""
        loop = asyncio.get_running_loop()
        tap = _Tap(cursor, deliver, contextvars.copy_context(), loop.create_future())
        self.taps.append(tap)
        try:
            pending = await tap.off
        except asyncio.CancelledError:  # the follower went away
            if tap in self.taps:
                self.taps.remove(tap)
            elif tap.off.done() and not tap.off.cancelled() and tap.off.exception() is None:
                abandon(tap.off.result())  # after it was handed a write it will not finish
            raise
        if pending is not None:
            await pending
        return tap.cursor

    async def changed(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter.cancelled() and waiter in self.waiters:  # the reader went away
                self.waiters.remove(waiter)


class MemoryEventLog:
    def __init__(self, *, ttl_s: float = 3600.0) -> None:
        self._ttl = ttl_s
        self._streams: dict[MessageId, _Stream] = {}
        self._watchers = Watchers()

    async def append(self, event: Event, *, fence: Fence | None = None) -> None:
        # One process owns every reply here: there is no lease to check ``fence`` against.
        mid = MessageId(event.message_id)
        stream = self._streams.get(mid)
        if stream is None:
            if event.seq != 0:
                raise ValueError(f"first event of {mid} must have seq 0, not {event.seq}")
            stream = self._streams[mid] = _Stream()
        if stream.closed:
            raise ValueError(f"stream of {mid} already ended")
        if event.seq != len(stream.events):
            raise ValueError(
                f"seq {event.seq} out of order for {mid} (next is {len(stream.events)})"
            )
        stream.events.append(event)
        stream.shared.clear()
        if is_terminal(event):
            stream.closed = True
            loop = asyncio.get_running_loop()
            stream.expiry = loop.call_later(self._ttl, self._streams.pop, mid, None)
        stream.wake()

    async def read(
        self, message_id: MessageId, after: int, *, batch: int = 512
    ) -> AsyncGenerator[list[Event]]:
        stream = self._streams.get(message_id)
        if stream is None:
            raise LogMiss(message_id)
        cursor = max(after + 1, 0)
        while True:
            if cursor < len(stream.events):
                chunk = stream.batch(cursor, batch)
                cursor += len(chunk)
                yield chunk
                if is_terminal(chunk[-1]):
                    return
                continue
            if stream.closed:
                return
            await stream.changed()

    async def relay(
        self, message_id: MessageId, after: int, deliver: Deliver, *, batch: int = 512
    ) -> None:
        stream = self._streams.get(message_id)
        if stream is None:
            raise LogMiss(message_id)
        cursor = max(after + 1, 0)
        while True:
            if cursor < len(stream.events):  # behind: catch up from this task
                chunk = stream.batch(cursor, batch)
                cursor += len(chunk)
                pending = deliver(chunk)
                if pending is not None:
                    await pending
                if is_terminal(chunk[-1]):
                    return
                continue
            if stream.closed:
                return
            cursor = await stream.tapped(cursor, deliver)

    async def reopen(self, message_id: MessageId, events: Sequence[Event]) -> None:
        self.forget(message_id)
        self._streams[message_id] = _Stream(events=list(events))

    def forget(self, message_id: MessageId) -> None:
        """Drop a reply's events now (tests use it to exercise replay from the store)."""
        stream = self._streams.pop(message_id, None)
        if stream is not None and stream.expiry is not None:
            stream.expiry.cancel()

    async def announce(self, conversation_id: ConversationId, message_id: MessageId) -> None:
        self._watchers.publish(conversation_id, message_id)

    def watch(
        self, conversation_id: ConversationId
    ) -> AbstractAsyncContextManager[AsyncIterator[MessageId]]:
        return self._watchers.watch(conversation_id)

    async def close(self) -> None:
        for stream in self._streams.values():
            if stream.expiry is not None:
                stream.expiry.cancel()
        self._streams.clear()
