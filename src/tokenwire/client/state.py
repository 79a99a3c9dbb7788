"""The client's connection state: an explicit state machine that anyone can watch.

::

    CONNECTING ─┬─> CONNECTED ─────────┐    every live state (CONNECTED, DEGRADED_SSE,
                ├─> DEGRADED_SSE       ├─>  DEGRADED_POLLING) may move to any other live
                ├─> DEGRADED_POLLING   │    state, to RECONNECTING or OFFLINE, and back
                ├─> RECONNECTING <─────┤
                └─> OFFLINE <──────────┘
    any state ──> CLOSED (final: nothing leaves it)

Which live state is shown depends on the transport that last worked: WebSocket is
CONNECTED, the others are degraded. RECONNECTING means a connection was cut and the client
is retrying; OFFLINE that the server could not be reached at all.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable

import msgspec

from tokenwire.client.errors import ConnectionFailed
from tokenwire.client.models import TransportKind


class ConnectionStatus(enum.StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DEGRADED_SSE = "degraded_sse"
    DEGRADED_POLLING = "degraded_polling"
    OFFLINE = "offline"
    CLOSED = "closed"

    @property
    def is_live(self) -> bool:
        """True when the last attempt worked, whatever the transport."""
        return self in _LIVE


_LIVE = frozenset(
    {ConnectionStatus.CONNECTED, ConnectionStatus.DEGRADED_SSE, ConnectionStatus.DEGRADED_POLLING}
)
_ANYWHERE = _LIVE | {
    ConnectionStatus.RECONNECTING,
    ConnectionStatus.OFFLINE,
    ConnectionStatus.CLOSED,
}
_ALLOWED: dict[ConnectionStatus, frozenset[ConnectionStatus]] = {
    ConnectionStatus.CONNECTING: _ANYWHERE,
    ConnectionStatus.CONNECTED: _ANYWHERE,
    ConnectionStatus.DEGRADED_SSE: _ANYWHERE,
    ConnectionStatus.DEGRADED_POLLING: _ANYWHERE,
    ConnectionStatus.RECONNECTING: _ANYWHERE,
    ConnectionStatus.OFFLINE: _ANYWHERE,
    ConnectionStatus.CLOSED: frozenset(),
}
_STATUS_OF = {
    TransportKind.WEBSOCKET: ConnectionStatus.CONNECTED,
    TransportKind.SSE: ConnectionStatus.DEGRADED_SSE,
    TransportKind.POLLING: ConnectionStatus.DEGRADED_POLLING,
}


class ConnectionState(msgspec.Struct, frozen=True):
    """What listeners receive on every change."""

    status: ConnectionStatus
    transport: TransportKind
    error: str | None = None


Listener = Callable[[ConnectionState], None]


class StatusBoard:
    """Holds the current ``ConnectionState``; transports report to it, callers watch it."""

    def __init__(self, transport: TransportKind = TransportKind.WEBSOCKET) -> None:
        self._state = ConnectionState(ConnectionStatus.CONNECTING, transport)
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()

    @property
    def state(self) -> ConnectionState:
        return self._state

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns a function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def up(self, transport: TransportKind) -> None:
        """A transport just worked."""
        self._move(ConnectionState(_STATUS_OF[transport], transport))

    def down(self, error: ConnectionFailed, transport: TransportKind) -> None:
        """A transport just failed; the client will retry."""
        status = ConnectionStatus.RECONNECTING if error.reachable else ConnectionStatus.OFFLINE
        self._move(ConnectionState(status, transport, error.message))

    def close(self) -> None:
        if self._state.status is not ConnectionStatus.CLOSED:
            self._move(ConnectionState(ConnectionStatus.CLOSED, self._state.transport))

    async def wait_for(self, predicate: Callable[[ConnectionState], bool]) -> ConnectionState:
        """Wait until the state satisfies ``predicate`` (at once if it already does)."""
        while not predicate(self._state):
            await self._changed.wait()
        return self._state

    def _move(self, new: ConnectionState) -> None:
        old = self._state
        if old.status is ConnectionStatus.CLOSED:
            return  # reports racing with close() change nothing: the client is gone
        if new.status not in _ALLOWED[old.status]:
            raise ValueError(f"connection status cannot go from {old.status} to {new.status}")
        if new == old:
            return
        self._state = new
        # Wake the current waiters, then arm a fresh event for the next change.
        self._changed.set()
        self._changed = asyncio.Event()
        for listener in list(self._listeners):
            listener(new)
