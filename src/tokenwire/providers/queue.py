"""A fair FIFO line in front of a model that decodes one reply at a time.

Requests take a ``Ticket`` and are served strictly in arrival order. A waiting ticket knows
its position (1 = next) and can await the next change of it, which is how a waiting stream
reports ``Queued(position)`` as the line moves. The line is bounded: ``admit()`` refuses a
request with ``Unavailable`` (503 with ``Retry-After``) while it is full, before anything is
stored for that request.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from tokenwire.errors import Unavailable

__all__ = ["FairQueue", "Ticket"]


class Ticket:
    """One request's place in the line."""

    __slots__ = ("_changed", "granted", "position")

    def __init__(self, position: int) -> None:
        self.position = position  # requests ahead of this one, counting the next to run as 1
        self.granted = position == 0
        self._changed: asyncio.Event = asyncio.Event()

    def _move(self, position: int) -> None:
        self.position = position
        self.granted = position == 0
        self._changed.set()

    async def changed(self) -> None:
        """Wait until the position changes (or the ticket is granted)."""
        await self._changed.wait()
        self._changed.clear()


class FairQueue:
    """``slots`` requests run at once; up to ``max_waiting`` more wait their turn in order."""

    def __init__(self, *, slots: int = 1, max_waiting: int = 16, retry_after: float = 5.0) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self._slots = slots
        self._max_waiting = max_waiting
        self._retry_after = retry_after
        self._running = 0
        self._waiting: deque[Ticket] = deque()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def admit(self) -> None:
        """Raise ``Unavailable`` when a new request would have no room in the line."""
        if self._running >= self._slots and len(self._waiting) >= self._max_waiting:
            raise Unavailable(
                f"the model is busy: {len(self._waiting)} replies are waiting; try again shortly",
                code="queue_full",
                retry_after=self._retry_after,
            )

    def join(self) -> Ticket:
        """Take a place: granted at once when a slot is free and nobody waits, else last in line.

        Does not check the bound: requests that ``admit()`` let in are never turned away later.
        """
        if self._running < self._slots and not self._waiting:
            self._running += 1
            return Ticket(0)
        ticket = Ticket(len(self._waiting) + 1)
        self._waiting.append(ticket)
        return ticket

    async def positions(self, ticket: Ticket) -> AsyncIterator[int]:
        """The ticket's place in line each time it changes, until it is granted."""
        reported = 0
        while not ticket.granted:
            if ticket.position != reported:
                reported = ticket.position
                yield reported
            await ticket.changed()

    def leave(self, ticket: Ticket) -> None:
        """Give the place back: free the slot of a granted ticket, or step out of the line."""
        if ticket.granted:
            self._running -= 1
            ticket.granted = False
            ticket.position = -1
        elif ticket in self._waiting:
            self._waiting.remove(ticket)
        else:
            return
        self._advance()

    def _advance(self) -> None:
        while self._running < self._slots and self._waiting:
            self._running += 1
            self._waiting.popleft()._move(0)
        for position, ticket in enumerate(self._waiting, start=1):
            if ticket.position != position:
                ticket._move(position)
