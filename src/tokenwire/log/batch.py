"""A batch of events as the log hands it out, shared by every follower at the same point.

Followers of one reply that have caught up are woken by the same append and read the same
events: the log gives them all the same ``Batch`` object. What a follower derives from a
batch (the coalesced events, their bytes in one dialect) it asks of the batch with a key
naming everything the result depends on, so the first follower computes it and the others
take it: an event is encoded once per dialect, not once per subscriber. A follower that fell
behind reads a batch of its own and pays for it alone.

Batches are shared: treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar, cast

from tokenwire.protocol.events import Event

T = TypeVar("T")

__all__ = ["Batch"]

_MISSING = object()


class Batch(list[Event]):
    """Events in seq order, with a memo of what followers derive from them."""

    __slots__ = ("_derived",)

    def __init__(self, events: Iterable[Event] = ()) -> None:
        super().__init__(events)
        self._derived: dict[Hashable, Any] = {}

    def derive(self, key: Hashable, make: Callable[[Batch], T]) -> T:
        """``make(self)``, computed once per ``key`` for every follower holding this batch.

        ``key`` must name all that the result depends on besides the events, e.g.
        ``("sse",)`` for the canonical SSE bytes, or ``("openai", model, include_usage)``.
        """
        # A lookup, not try/except: with one follower per reply every call is a miss.
        value = self._derived.get(key, _MISSING)
        if value is _MISSING:
            value = self._derived[key] = make(self)
        return cast(T, value)


def batch_of(events: list[Event]) -> Batch:
    """``events`` as a ``Batch`` (itself when it already is one)."""
    return events if isinstance(events, Batch) else Batch(events)
