"""Telling a database at the newest revision without Alembic: ``migrate.HEAD`` is the
migrations' own head, and a start on such a database imports no Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from tokenwire.store import migrate

PROBE = """
import asyncio, sys
from tokenwire.store import SQLStore
from tokenwire.store.migrate import HEAD, revisions

async def main(url):
    store = SQLStore(url)
    try:
        await store.migrate()
        async with store.engine.connect() as conn:
            print(sorted(await revisions(conn)), "alembic" in sys.modules)
    finally:
        await store.close()

asyncio.run(main(sys.argv[1]))
"""


def test_head_is_the_newest_migration() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_heads() == [migrate.HEAD]


def test_a_database_at_the_newest_revision_is_told_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"

    def start() -> str:
        run = subprocess.run(
            [sys.executable, "-c", PROBE, url], capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    # The first start migrates an empty database, with Alembic; the next one reads the
    # version and stops there.
    assert start() == f"['{migrate.HEAD}'] True"
    assert start() == f"['{migrate.HEAD}'] False"
