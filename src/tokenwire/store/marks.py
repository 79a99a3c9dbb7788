"""The text form of appended marks: ``seq,end;`` for each delta, in order.

A checkpoint appends the marks of the deltas since the last one to the row's ``mark_log``
with the SQL string concatenation both databases have, so its cost follows the new text,
not the length of the reply. Pure, with byte-literal tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
