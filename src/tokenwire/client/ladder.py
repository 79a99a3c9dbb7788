"""Which transport to use next: step down when one fails, climb back up later.

WebSocket is best (one socket per conversation, every reply pushed), then SSE (one HTTP
stream per reply), then polling (plain requests, works through anything that passes HTTP).

A transport is benched when something refuses it outright (a proxy answering the WebSocket
upgrade with 403) or when it fails ``max_failures`` times in a row without delivering
anything. A benched transport is tried again after ``climb_after`` seconds, doubled each
time it is benched again without having worked in between (up to ``max_bench``). Failures
that say nothing about the transport, because the server itself is down, bench nothing:
every transport would fail the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tokenwire.client.models import TransportKind

ORDER = (TransportKind.WEBSOCKET, TransportKind.SSE, TransportKind.POLLING)


class TransportLadder:
    def __init__(
        self,
        *,
        climb_after: float = 30.0,
        max_bench: float = 600.0,
        max_failures: int = 3,
        allowed: tuple[TransportKind, ...] = ORDER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not allowed:
            raise ValueError("at least one transport must be allowed")
        self._order = tuple(kind for kind in ORDER if kind in allowed)
        self._climb_after = climb_after
        self._max_bench = max_bench
        self._max_failures = max_failures
        self._clock = clock
        self._benched_until: dict[TransportKind, float] = {}
        self._strikes: dict[TransportKind, int] = {}
        self._failures: dict[TransportKind, int] = {}

    def current(self) -> TransportKind:
        """The best transport that is not benched; the last one is never benched."""
        now = self._clock()
        for kind in self._order[:-1]:
            if self._benched_until.get(kind, 0.0) <= now:
                return kind
        return self._order[-1]

    def below(self, kind: TransportKind) -> TransportKind | None:
        """The next transport down from ``kind``, benched or not; None at the bottom."""
        lower = self._order[self._order.index(kind) + 1 :] if kind in self._order else ()
        return lower[0] if lower else None

    def refused(self, kind: TransportKind) -> None:
        """Something refused ``kind``: bench it, for longer each time in a row."""
        strikes = self._strikes.get(kind, 0)
        bench = min(self._max_bench, self._climb_after * 2**strikes)
        self._benched_until[kind] = self._clock() + bench
        self._strikes[kind] = strikes + 1
        self._failures[kind] = 0

    def failed(self, kind: TransportKind) -> None:
        """``kind`` was cut before it delivered anything."""
        self._failures[kind] = self._failures.get(kind, 0) + 1
        if self._failures[kind] >= self._max_failures:
            self.refused(kind)

    def worked(self, kind: TransportKind) -> None:
        """``kind`` delivered: forget its past failures."""
        self._failures[kind] = 0
        self._strikes[kind] = 0
        self._benched_until.pop(kind, None)
