"""Handing a follower its events: pulled by its own task, or pushed by the appender.

A follower that reads with ``EventLog.read`` is a task woken for every append: one future
set, one task step and a chain of generators resumed, per follower per event. A reply
followed by a thousand clients pays that a thousand times an event.

``EventLog.relay`` takes a ``Deliver`` instead: a plain function given each batch. A log
that can (``MemoryEventLog``) calls it from the appender's task, right after the append, for
every follower that has caught up, so a live event costs each follower a function call and
its socket write, with no task woken. A follower that fell behind catches up in its own
task, as with ``read``.

``Deliver`` returns ``None`` when the batch is on its way (written to the connection), or an
awaitable when it is not yet (the connection's buffer is full): the follower's own task then
awaits it, and the log stops pushing to that follower until it has caught up again. A slow
client so never holds up the appender or the other followers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from contextlib import aclosing
from typing import Any

from tokenwire.log.batch import Batch, batch_of
from tokenwire.protocol.events import Event

__all__ = ["Deliver", "abandon", "eager", "pulled"]

Deliver = Callable[[Batch], Awaitable[None] | None]


def eager(step: Awaitable[None]) -> Awaitable[None] | None:
    """Run ``step`` now, up to its first suspension: ``None`` if it finished there, else an
    awaitable that runs the rest.

    An ASGI ``send`` suspends only when the connection's write buffer is full; run eagerly
    it writes at once, from whichever task calls it, with no task of its own.
    """
    steps = step.__await__()
    try:
        waiting_on = steps.send(None)
    except StopIteration:
        return None
    return _Rest(steps, waiting_on)


class _Rest:
    """An awaitable's steps, suspended on ``waiting_on``, to be awaited by the task that
    takes them on: the task waits for what they were waiting for, then runs them to their
    end, passing in whatever it is sent or thrown (a cancellation) as ``yield from`` would."""

    __slots__ = ("_step", "_waiting_on")

    def __init__(self, step: Generator[Any, Any, None], waiting_on: Any) -> None:
        self._step = step
        self._waiting_on = waiting_on

    def close(self) -> None:
        """Abandon the rest as a cancelled task would: the steps get ``CancelledError``
        where they wait, and their clean-up runs (a lock they hold, or queue for, is let go
        the way asyncio's own code does it on a cancel)."""
        try:
            self._step.throw(asyncio.CancelledError())
        except (asyncio.CancelledError, StopIteration):
            return
        self._step.close()  # it went on waiting: nobody will drive it again

    def __await__(self) -> Generator[Any, Any, None]:
        waiting_on = self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except BaseException as exc:  # a cancellation: the coroutine gets it
                try:
                    waiting_on = self._step.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                waiting_on = self._step.send(sent)
            except StopIteration:
                return


def abandon(pending: Awaitable[None] | None) -> None:
    """Drop a write left pending that nobody will await now (its follower went away)."""
    if isinstance(pending, _Rest):
        pending.close()


async def pulled(events: AsyncGenerator[list[Event]], deliver: Deliver) -> None:
    """``deliver`` every batch of ``events``, from the caller's task: ``EventLog.relay`` for
    a log that cannot push."""
    async with aclosing(events):
        async for batch in events:
            pending = deliver(batch_of(batch))
            if pending is not None:
                await pending
