"""Following a reply: its events from any seq, live to its end.

From the event log while it has them; from the stored row once it does not (expired, or
Redis out of reach), polling the row's checkpoints while another process still runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable

from tokenwire.engine import replay
from tokenwire.engine.config import EngineConfig
from tokenwire.engine.hooks import Hooks
from tokenwire.errors import NotFound, Unavailable
from tokenwire.log.base import EventLog, LogMiss
from tokenwire.log.batch import Batch, batch_of
from tokenwire.log.delivery import Deliver, pulled
from tokenwire.protocol.events import Event, coalesce, is_terminal
from tokenwire.store.records import Message, MessageStatus
from tokenwire.store.store import SQLStore

log = logging.getLogger("tokenwire.engine")


COALESCED = ("coalesced",)


class Following(AsyncIterator[Batch]):
    """A reply's events from a seq on, live to its end: iterate them, or have them handed
    to a function (``relay``), the cheaper way for a live reply with many followers."""

    __slots__ = ("_after", "_events", "_follower", "_reply")

    def __init__(self, follower: Follower, reply: Message, after: int) -> None:
        self._follower = follower
        self._reply = reply
        self._after = after
        self._events: AsyncGenerator[Batch] | None = None

    async def __anext__(self) -> Batch:
        if self._events is None:
            self._events = self._follower._events(self._reply, self._after)
        return await anext(self._events)

    async def aclose(self) -> None:
        if self._events is not None:
            await self._events.aclose()

    async def relay(self, deliver: Deliver) -> None:
        """Every batch, in order, to ``deliver`` (``log/delivery.py``), until the terminal
        event: the live ones from the appender's task, where the log can."""
        await self._follower._relay(self._reply, self._after, deliver)


def coalesced(batch: Batch) -> Batch:
    """The batch with every run of deltas merged into one (``protocol.events.coalesce``): done
    here, once for every follower holding the batch, not by each encoder."""
    if len(batch) == 1:  # a live follower's usual batch: nothing to merge
        return batch
    return batch.derive(COALESCED, _coalesced)


def _coalesced(batch: Batch) -> Batch:
    return Batch(coalesce(batch))


class Follower:
    def __init__(
        self, *, config: EngineConfig, store: SQLStore, events: EventLog, hooks: Hooks
    ) -> None:
        self._config = config
        self._store = store
        self._log = events
        self._hooks = hooks

    def follow(self, reply: Message, after: int = -1) -> Following:
        """The reply's events with seq > ``after`` in batches, live until the terminal event.

        From the event log while it has them; from the stored row once it does not. Followers
        at the same point of a live reply get the same ``Batch``: derive what goes on the wire
        with ``Batch.derive`` and it is derived once for all of them (``log/batch.py``).
        """
        self._hooks.follow_started(reply.id, after)
        return Following(self, reply, after)

    async def _events(self, reply: Message, after: int) -> AsyncGenerator[Batch]:
        # One async generator between the log and the follower: every event passes through
        # it on its way to every follower.
        position = after
        try:
            live = self._log.read(reply.id, position, batch=self._config.subscriber_batch)
            async with contextlib.aclosing(live):
                async for events in live:
                    position = events[-1].seq
                    yield coalesced(batch_of(events))
                    if is_terminal(events[-1]):
                        return
            # The log ended at or before ``after``: the terminal event comes from the row.
        except LogMiss:
            pass
        except Unavailable as exc:
            # Redis is down: what is committed is still served, from the stored row.
            log.warning("following reply %s from the store: %s", reply.id, exc)
        async for batch in self._stored(reply, after, position):
            yield batch

    async def _relay(self, reply: Message, after: int, deliver: Deliver) -> None:
        """``_events``, handed to ``deliver``: live events by the appender where the log
        can (``log/delivery.py``)."""
        position = after
        ended = False

        def logged(events: Batch) -> Awaitable[None] | None:
            nonlocal position, ended
            position = events[-1].seq
            ended = is_terminal(events[-1])
            return deliver(coalesced(events))

        try:
            await self._log.relay(reply.id, position, logged, batch=self._config.subscriber_batch)
            if ended:
                return
        except LogMiss:
            pass
        except Unavailable as exc:
            log.warning("following reply %s from the store: %s", reply.id, exc)
        await pulled(self._stored(reply, after, position), deliver)

    async def _stored(self, reply: Message, after: int, position: int) -> AsyncGenerator[Batch]:
        """The rest from the stored row, for a follower that read the log up to ``position``
        (``after`` when it read nothing there)."""
        if position != after or reply.status is MessageStatus.STREAMING:
            # What the caller read before the log was used may be stale by now.
            reply = await self._store.find_message(reply.id) or reply
        async for events in self._follow_store(reply, position):
            yield coalesced(batch_of(events))

    async def _follow_store(self, reply: Message, after: int) -> AsyncIterator[list[Event]]:
        """The row's text after ``after``, polled while the reply streams on, then always its
        terminal event: a client that resumes at (or past) the end, or that was sent more
        than the row kept, learns how the reply ended instead of hearing nothing."""
        if after < 0:
            if reply.reply_to is None:
                raise NotFound(f"message {reply.id} is not a reply")
            user_message = await self._store.find_message(reply.reply_to)
            if user_message is None:
                raise NotFound(f"message {reply.reply_to} not found")
            yield [replay.start_event(reply, user_message)]
            after = 0
        current: Message | None = reply
        while current is not None:
            out: list[Event] = []
            delta = replay.text_after(current, after)
            if delta is not None:
                out.append(delta)
                after = delta.seq
            if current.status.is_final:
                out.extend(replay.tool_calls_after(current, after))
                out.append(replay.terminal_event(current))
                yield out
                return
            if out:
                yield out
            # Still streaming on another process: poll its checkpoints until it ends.
            await asyncio.sleep(self._config.checkpoint_interval_s / 2)
            current = await self._store.find_message(reply.id)

    async def wait(self, reply: Message) -> Message:
        """Wait for the reply to end and return it as stored."""
        # Not ``follow``: waiting for the end is not a client following the reply.
        async for events in self._events(reply, 0):
            if is_terminal(events[-1]):
                break
        final = await self._store.find_message(reply.id)
        if final is None:
            raise NotFound(f"message {reply.id} not found")
        return final
