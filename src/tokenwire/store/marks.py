"""The text form of appended marks: ``seq,end;`` for each delta, in order.

``Marks`` holds a row's marks as read, decoded on first use.

A checkpoint appends the marks of the deltas since the last one to the row's ``mark_log``
with the SQL string concatenation both databases have, so its cost follows the new text,
not the length of the reply. Pure, with byte-literal tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

Mark = tuple[int, int]


def encode(marks: Iterable[Mark]) -> str:
    """``((3, 10), (4, 12))`` -> ``"3,10;4,12;"``."""
    return "".join(f"{seq},{end};" for seq, end in marks)


def decode(text: str) -> list[Mark]:
    """The marks of ``encode``'s text (an empty text has none)."""
    out: list[Mark] = []
    for pair in text.split(";"):
        if pair:
            seq, _, end = pair.partition(",")
            out.append((int(seq), int(end)))
    return out


def merged(stored: Sequence[Sequence[int]] | None, log: str | None) -> tuple[Mark, ...]:
    """A row's marks: those written whole, then those appended after them."""
    whole = [(int(s), int(e)) for s, e in (stored or ())]
    return tuple(whole + decode(log)) if log else tuple(whole)


class Marks(Sequence[Mark]):
    """A row's marks, decoded when first used. A reply stores a mark per delta, and most
    reads of a message (a branch shown, a history page, an export's listing) never look at
    them: decoding them for every message was most of what reading a long conversation
    cost. ``stored`` is the ``marks`` column as JSON text (``MESSAGE_COLUMNS`` reads it so)
    or as already decoded (an ORM row); ``log`` the ``mark_log`` appended after it."""

    __slots__ = ("_log", "_marks", "_stored")

    def __init__(self, stored: str | Sequence[Sequence[int]] | None, log: str | None) -> None:
        self._stored = stored
        self._log = log
        self._marks: tuple[Mark, ...] | None = None

    def _decoded(self) -> tuple[Mark, ...]:
        if self._marks is None:
            stored = self._stored
            whole = json.loads(stored) if isinstance(stored, str) else stored
            self._marks = merged(whole, self._log)
            self._stored = self._log = None
        return self._marks

    @overload
    def __getitem__(self, index: int) -> Mark: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Mark, ...]: ...
    def __getitem__(self, index: int | slice) -> Mark | tuple[Mark, ...]:
        return self._decoded()[index]

    def __len__(self) -> int:
        return len(self._decoded())

    def __iter__(self) -> Iterator[Mark]:
        return iter(self._decoded())

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Marks):
            return self._decoded() == other._decoded()
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._decoded() == tuple(tuple(mark) for mark in other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._decoded())

    def __repr__(self) -> str:
        return f"Marks({self._decoded()!r})"
