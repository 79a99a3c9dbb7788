"""The store's translation of database errors: an outage is Unavailable, a bug is not."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import exc as sa
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

from tokenwire.errors import Unavailable
from tokenwire.store import SQLStore
from tokenwire.store.errors import is_outage, translate


def from_postgres(error: asyncpg.PostgresError) -> sa.DBAPIError:
    """What SQLAlchemy's asyncpg dialect raises for a PostgreSQL error it has no class for:
    a plain ``DBAPIError`` around its adapted ``Error``, which keeps the SQLSTATE."""
    return sa.DBAPIError("SELECT 1", {}, AsyncAdapt_asyncpg_dbapi.Error(str(error), error))


def named(error: Exception) -> str:
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return f"{type(error).__name__}-{sqlstate}" if sqlstate else type(error).__name__


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
        sa.OperationalError("SELECT 1", {}, Exception("database is locked")),
        sa.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
        sa.TimeoutError("QueuePool limit reached"),
        sa.DBAPIError("SELECT 1", {}, Exception("reset"), connection_invalidated=True),
        # A server starting up, shutting down, or out of connection slots.
        from_postgres(asyncpg.CannotConnectNowError("the database system is starting up")),
        from_postgres(asyncpg.AdminShutdownError("terminating connection")),
        from_postgres(asyncpg.TooManyConnectionsError("too many clients already")),
        from_postgres(asyncpg.ConnectionFailureError("connection failure")),
    ],
    ids=named,
)
def test_outages(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        sa.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")),
        sa.ProgrammingError("SELEC 1", {}, Exception("syntax error")),
        ValueError("a bug"),
        from_postgres(asyncpg.UndefinedTableError('relation "nope" does not exist')),
        from_postgres(asyncpg.QueryCanceledError("canceling statement due to statement timeout")),
    ],
    ids=named,
)
def test_not_outages(error: Exception) -> None:
    assert not is_outage(error)


def test_translate_raises_unavailable_from_the_original() -> None:
    async def refused() -> None:
        raise ConnectionRefusedError(111, "Connect call failed")

    with pytest.raises(Unavailable) as info:
        asyncio.run(translate(refused)())
    assert info.value.status == 503
    assert info.value.retry_after == 5.0
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_every_store_method_is_translated(tmp_path: Path) -> None:
    """A store whose database cannot be opened answers Unavailable, whatever is asked."""

    async def ask() -> None:
        store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'db.sqlite'}")
        try:
            with pytest.raises(Unavailable):
                await store.find_message("01a22ed2-2e4c-71a9-b2ac-e09e57fa7aff")
            with pytest.raises(Unavailable):
                await store.streaming_messages()
        finally:
            await store.close()
            # aiosqlite's worker threads answer on this loop: on a busy machine they can
            # still be finishing, and one that answers after asyncio.run has closed the
            # loop fails in its thread. Let them finish while the loop runs.
            workers = [t for t in threading.enumerate() if "_connection_worker" in t.name]
            await asyncio.to_thread(lambda: [t.join(60) for t in workers])

    asyncio.run(ask())
