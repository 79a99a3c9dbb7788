"""The SQL store: users, sessions, conversations and messages on SQLite or PostgreSQL.

One implementation serves both engines through SQLAlchemy's async API; the URL scheme
picks the driver (``sqlite+aiosqlite://``, ``postgresql+asyncpg://``). Ownership is part of
every query a user can reach: another user's row is simply not found.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from tokenwire.store import sqlite
from tokenwire.store.branches import BranchQueries
from tokenwire.store.conversations import ConversationQueries
from tokenwire.store.errors import translated
from tokenwire.store.records import Checkpoint, Outcome
from tokenwire.store.search import SearchQueries
from tokenwire.store.sessions import SessionQueries
from tokenwire.store.turns import NewConversation, NewTurn, TurnQueries, TurnTarget
from tokenwire.store.users import UserQueries, hash_token, new_token

__all__ = [
    "Checkpoint",
    "NewConversation",
    "NewTurn",
    "Outcome",
    "SQLStore",
    "TurnTarget",
    "create_engine",
    "hash_token",
    "new_token",
]


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One trip to SQLite's thread per statement, not three or four (``store/sqlite.py``).
        engine = create_async_engine(url, module=sqlite.DBAPI(), connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers (history, resume) run while a checkpoint writes.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=10,  # waiting longer for a connection: the database is as good as down
        connect_args={"timeout": 10},  # asyncpg's connect timeout (its default is 60 s)
    )


@translated  # a database outage is Unavailable (503), from every method
class SQLStore(
    UserQueries, SessionQueries, ConversationQueries, TurnQueries, BranchQueries, SearchQueries
):
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._session = async_sessionmaker(self.engine, expire_on_commit=False)

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from tokenwire.store.migrate import upgrade

        await upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self._session() as s:
            await s.execute(select(1))
