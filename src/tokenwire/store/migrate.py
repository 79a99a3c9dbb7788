"""Alembic, driven from code: ``tokenwire db upgrade`` and server start-up both land here.

A database already at the newest revision (every start but the first) is told by one read of
``alembic_version``, without importing Alembic: with Mako and Pygments it is about a tenth of
a server's start (docs/performance.md, "Starting"). ``HEAD`` names that revision;
``tests/store/test_revisions.py`` holds it to the migrations' own head.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x746F6B656E  # "token": the advisory lock that serialises migrations
HEAD = "0020"  # the newest revision under migrations/versions


def alembic_config(connection: Any = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as conn:
        if revision == "head" and await revisions(conn) == {HEAD}:
            return
        if conn.dialect.name == "postgresql":
            # Several instances may start at once: one migrates while the others wait on this
            # lock (held until the transaction ends), then find nothing left to do.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(_upgrade, revision)


async def revisions(conn: AsyncConnection) -> set[str]:
    """The revisions the database is at: none for a database Alembic never touched."""
    if not await conn.run_sync(lambda c: inspect(c).has_table("alembic_version")):
        return set()
    return set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())


def _upgrade(connection: Any, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)
