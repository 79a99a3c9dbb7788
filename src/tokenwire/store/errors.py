"""The store's one translation of database errors: an outage becomes ``Unavailable``.

An unreachable database (refused or reset connections, a server shutting down or starting
up, a pool that cannot hand out a connection in time, SQLite locked past its busy timeout)
is no fault of the request: it is answered 503 with ``Retry-After``, like Redis down, and
a WebSocket gets an error frame. Every public coroutine of the store goes through
``translate`` (``translated`` applies it to a whole class), so the rest of the code sees
``tokenwire.errors`` only. Other database errors (a constraint the store does not expect, a
bug) stay what they are: a 500 that is logged as a fault of the server.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import exc as sa

from tokenwire.errors import Unavailable

__all__ = ["RETRY_AFTER_S", "is_outage", "translate", "translated"]

RETRY_AFTER_S = 5.0

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)


# SQLSTATEs of a server that cannot serve now, whatever the statement: PostgreSQL's
# connection exceptions (class 08), its shutting down or starting up (57P01 admin_shutdown,
# 57P02 crash_shutdown, 57P03 cannot_connect_now) and its connection slots all taken. The
# asyncpg dialect raises these as a plain DBAPIError (its ``Error``), with the code kept.
_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def _outage_state(sqlstate: object) -> bool:
    return isinstance(sqlstate, str) and (sqlstate.startswith("08") or sqlstate in _OUTAGE_STATES)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached, rather than that a statement
    is wrong."""
    if isinstance(exc, sa.DBAPIError):
        return (
            exc.connection_invalidated
            or isinstance(exc, sa.OperationalError | sa.InterfaceError)
            or _outage_state(getattr(exc.orig, "sqlstate", None))
        )
    if isinstance(exc, sa.DisconnectionError | sa.TimeoutError):  # the pool's timeout
        return True
    # Connecting is not wrapped by SQLAlchemy: the driver's own errors come through as they
    # are (asyncpg: OSError for a refused connection, its PostgresConnectionError family,
    # AdminShutdownError and CannotConnectNowError while the server stops or starts).
    if isinstance(exc, OSError | TimeoutError):
        return True
    name = type(exc).__name__
    return type(exc).__module__.startswith("asyncpg") and ("Connect" in name or "Shutdown" in name)


def translate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """``fn`` with a database outage raised as ``Unavailable`` (``raise ... from``)."""

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            if is_outage(exc):
                raise Unavailable(
                    f"the database is unavailable: {type(exc).__name__}",
                    retry_after=RETRY_AFTER_S,
                ) from exc
            raise

    return call


def translated(cls: C) -> C:
    """``cls`` with ``translate`` around each of its public coroutine methods, inherited
    ones included."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        method = getattr(cls, name)
        if inspect.iscoroutinefunction(method):
            setattr(cls, name, translate(method))
    return cls
