"""SQLite through aiosqlite, one trip to its thread per statement.

aiosqlite runs every call on a connection in that connection's own thread, and each call
is a trip there and back: queued to the thread, then a ``call_soon_threadsafe`` that wakes
the event loop with the result. SQLAlchemy's aiosqlite adapter makes a cursor, executes,
fetches and closes it, four trips for a ``SELECT`` and three for a write. Here the cursor
hands the thread the whole statement (cursor, execute, fetch, close) in one function, so a
statement is one trip; the rows come back already fetched, as SQLAlchemy's buffered cursor
holds them anyway. A commit or a rollback is one trip when a transaction is open and none
otherwise: a read opens none, and the pool's rollback of every connection it takes back
comes after the commit of a write.

The adapter is SQLAlchemy's own with its cursor class swapped (``DBAPI`` is passed to
``create_async_engine(module=...)``), so the URL stays ``sqlite+aiosqlite://``; a
server-side cursor (``stream_results``) keeps aiosqlite's.

aiosqlite has no public call for "run this function in the connection's thread": this uses
``Connection._execute`` and ``Connection._conn``, the two its own methods are built on.
``tests/store/test_sqlite.py`` runs every cursor operation through them on a real database,
so a release of aiosqlite that changes them fails there first.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

__all__ = ["DBAPI"]

# What one statement gives back from the thread: the description, the rows, the row count
# and the last row id.
_Outcome = tuple[Any, Sequence[Any], int, int | None]


_Step = Callable[[aiosqlite.Connection, str, Any], _Outcome]


def _execute(connection: aiosqlite.Connection, operation: str, parameters: Any) -> _Outcome:
    """Run in the connection's thread: the whole statement, the cursor closed after it."""
    cursor = connection._conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _executemany(connection: aiosqlite.Connection, operation: str, parameters: Any) -> _Outcome:
    cursor = connection._conn.cursor()
    try:
        cursor.executemany(operation, parameters)
        return cursor.description, (), cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor that holds no cursor of aiosqlite's: each statement is one trip."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # The base class would open an aiosqlite cursor here: a trip, and another to close it.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        """Nothing is open in the thread to close: the rows are already here."""

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._run(_execute, operation, parameters)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._run(_executemany, operation, seq_of_parameters)

    def _run(self, step: _Step, operation: str, parameters: Any) -> None:
        connection = self._connection
        try:
            outcome: _Outcome = await_(connection._execute(step, connection, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _Cursor

    # With no transaction open, a commit or a rollback has nothing to do, and the trip to the
    # thread would be all it cost: SQLAlchemy rolls back every connection the pool takes
    # back (after a commit too), and a read opens no transaction (sqlite3 begins one before
    # a write only). ``in_transaction`` is SQLite's own flag, read here while the thread has
    # nothing of this connection's to run: SQLAlchemy waits for each call before the next.

    def rollback(self) -> None:
        if self._open():
            super().rollback()

    def commit(self) -> None:
        if self._open():
            super().commit()

    def _open(self) -> bool:
        connection: sqlite3.Connection | None = self._connection._connection
        return connection is None or connection.in_transaction


class DBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite adapter, whose connections make one-trip cursors."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        adapted = super().connect(*arg, **kw)
        return _Connection(self, adapted._connection)
