"""``tokenwire db upgrade`` on PostgreSQL, run by several instances at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
from alembic.script import ScriptDirectory

from tokenwire.store.migrate import alembic_config


async def schema(url: str) -> tuple[set[str], str]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        version = await conn.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await conn.close()
    return tables, str(version)


def test_concurrent_upgrades_bring_postgresql_to_the_newest_revision(
    tmp_path: Path, postgres_url: str
) -> None:
    env = {
        **os.environ,
        "TOKENWIRE_DATABASE_URL": postgres_url,
        "TOKENWIRE_DATA_DIR": str(tmp_path),
    }
    upgrades = [
        subprocess.Popen(
            [sys.executable, "-m", "tokenwire", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    for upgrade in upgrades:
        out, _ = upgrade.communicate(timeout=60)
        assert upgrade.returncode == 0, out
        assert "database is up to date" in out
    tables, version = asyncio.run(schema(postgres_url))
    assert {"users", "conversations", "messages", "alembic_version"} <= tables
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
