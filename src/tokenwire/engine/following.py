"""Following a reply: its events from any seq, live to its end.

From the event log while it has them; from the stored row once it does not (expired, or
Redis out of reach), polling the row's checkpoints while another process still runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from tokenwire.engine import replay
from tokenwire.engine.config import EngineConfig
from tokenwire.engine.hooks import Hooks
from tokenwire.errors import NotFound, Unavailable
from tokenwire.log.base import EventLog, LogMiss
from tokenwire.log.batch import Batch, batch_of
from tokenwire.protocol.events import Event, coalesce, is_terminal
from tokenwire.store.records import Message, MessageStatus
from tokenwire.store.store import SQLStore

log = logging.getLogger("tokenwire.engine")


COALESCED = ("coalesced",)


def coalesced(batch: Batch) -> Batch:
    """The batch with every run of deltas merged into one (``protocol.events.coalesce``): done
    here, once for every follower holding the batch, not by each encoder."""
    return batch.derive(COALESCED, lambda b: Batch(coalesce(b)))


class Follower:
    def __init__(
        self, *, config: EngineConfig, store: SQLStore, events: EventLog, hooks: Hooks
    ) -> None:
        self._config = config
        self._store = store
        self._log = events
        self._hooks = hooks

    def follow(self, reply: Message, after: int = -1) -> AsyncIterator[Batch]:
        """The reply's events with seq > ``after`` in batches, live until the terminal event.

        From the event log while it has them; from the stored row once it does not. Followers
        at the same point of a live reply get the same ``Batch``: derive what goes on the wire
        with ``Batch.derive`` and it is derived once for all of them (``log/batch.py``).
        """
        self._hooks.follow_started(reply.id, after)
        return self._events(reply, after)

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
