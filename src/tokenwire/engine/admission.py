"""The seam for per-user stream limits: whether a user may start one more reply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tokenwire.ids import UserId

Release = Callable[[], None]


class Admission(Protocol):
    """Decides whether a user may start one more reply (per-user stream limits)."""

    async def admit(self, user_id: UserId) -> Release:
        """Hold a place for one reply, or raise ``RateLimited``; the engine calls the release
        when the reply ends, or at once when no reply starts."""
        ...
