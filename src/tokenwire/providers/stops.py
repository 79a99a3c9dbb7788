"""Stop sequences, OpenAI's way: the reply ends where one begins, and it is not emitted.

Text streams through ``StopScanner.feed``; whatever might still be the start of a stop
sequence is held back until the next piece decides it, so no byte of a stop sequence ever
reaches a client, even when it arrives split across tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopScanner"]


class StopScanner:
    """Feed pieces of text; get back what may be emitted, and whether a stop was reached."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        """The part of the text so far that is certainly before any stop sequence."""
        if self.stopped or not self._stops:
            return "" if self.stopped else text
        buffer = self._held + text
        cut = min((i for s in self._stops if (i := buffer.find(s)) != -1), default=-1)
        if cut != -1:
            self.stopped = True
            self._held = ""
            return buffer[:cut]
        keep = self._partial(buffer)
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        """What was held back, once the reply has ended without reaching a stop."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _partial(self, buffer: str) -> int:
        """The length of the longest end of ``buffer`` that begins some stop sequence."""
        best = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(buffer)), best, -1):
                if buffer.endswith(stop[:n]):
                    best = n
                    break
        return best
