"""The SQLite driver (``store/sqlite.py``): one trip to the connection's thread per statement,
with what a DBAPI cursor gives back unchanged, on a real database file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tokenwire.store.store import create_engine

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"))
    yield engine
    await engine.dispose()


class Trips:
    """Counts what is queued to an aiosqlite connection's thread. The thread keeps its own
    reference to the queue, so this wrapper only sees (and forwards) what is put."""

    def __init__(self, queue: SimpleQueue[Any]) -> None:
        self.queue = queue
        self.count = 0

    def put_nowait(self, item: Any) -> None:
        self.count += 1
        self.queue.put_nowait(item)


async def counted(conn: AsyncConnection) -> Trips:
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    trips = Trips(raw._tx)
    raw._tx = trips
    return trips


async def test_a_statement_is_one_trip_and_gives_what_a_cursor_gives(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        trips = await counted(conn)

        inserted = await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        assert (trips.count, inserted.rowcount, inserted.lastrowid) == (1, 1, 1)

        many = await conn.execute(
            text("INSERT INTO t (name) VALUES (:n)"), [{"n": "b"}, {"n": "c"}]
        )
        assert (trips.count, many.rowcount) == (2, 2)

        rows = await conn.execute(text("SELECT id, name FROM t ORDER BY id"))
        assert trips.count == 3
        assert list(rows.keys()) == ["id", "name"]
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c")]

        updated = await conn.execute(text("UPDATE t SET name = 'z' WHERE id > 1"))
        assert (trips.count, updated.rowcount) == (4, 2)

        await conn.commit()
        assert trips.count == 5
    async with engine.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
    assert names == ["a", "z", "z"]


async def test_a_read_is_one_trip_and_a_write_two_with_the_connection_given_back(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        trips = await counted(conn)
    # The same connection again (the pool holds it), counted across each block's exit: the
    # pool's rollback on taking it back goes to the thread only when a transaction is open.
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
    assert trips.count == 1
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
    assert trips.count == 3
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('undone')"))
        await conn.rollback()  # a transaction is open: this one goes
    assert trips.count == 5
    async with engine.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t"))).scalars().all()
    assert names == ["a"]


async def test_a_failed_statement_raises_the_dbapi_error_and_leaves_the_connection_usable(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("INSERT INTO t (id, name) VALUES (1, 'a')"))
        with pytest.raises(exc.IntegrityError, match="UNIQUE constraint failed"):
            await conn.execute(text("INSERT INTO t (id, name) VALUES (1, 'again')"))
        with pytest.raises(exc.OperationalError, match="no such table"):
            await conn.execute(text("SELECT * FROM missing"))
        # The statement before the failures is still in the transaction.
        assert (await conn.execute(text("SELECT name FROM t"))).scalar_one() == "a"
        await conn.rollback()
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_streamed_results_still_read_through_a_cursor_in_the_thread(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO t (name) VALUES (:n)"), [{"n": str(i)} for i in range(50)]
        )
    async with engine.connect() as conn:
        result = await conn.stream(text("SELECT name FROM t ORDER BY id"))
        names = [row[0] async for row in result]
    assert names == [str(i) for i in range(50)]
