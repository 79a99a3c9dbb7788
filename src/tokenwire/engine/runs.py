"""The replies this process is running, by id.

The engine adds a run when it starts one and drops it when it ends; the takeover sweeper
(``takeover.py``) reads the same registry to renew leases, deliver cancels and leave alone
the replies that run here. Both hold the registry; neither holds the other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from tokenwire.engine.run import Run, StopReason
from tokenwire.ids import MessageId

__all__ = ["Runs"]


class Runs(Mapping[MessageId, Run]):
    """A read-only mapping for readers, with ``add`` and ``discard`` for the engine."""

    def __init__(self) -> None:
        self._runs: dict[MessageId, Run] = {}

    def __getitem__(self, message_id: MessageId) -> Run:
        return self._runs[message_id]

    def __iter__(self) -> Iterator[MessageId]:
        return iter(self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    def add(self, run: Run) -> None:
        self._runs[run.message_id] = run

    def discard(self, message_id: MessageId) -> None:
        self._runs.pop(message_id, None)

    def stop(self, message_id: str, reason: StopReason) -> bool:
        """Stop the run of ``message_id`` if it runs here; whether it did."""
        run = self._runs.get(MessageId(message_id))
        if run is None:
            return False
        run.stop(reason)
        return True
