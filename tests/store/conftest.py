from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tokenwire.store import SQLStore


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database for each backend the store contract runs against."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SQLStore]:
    s = SQLStore(store_url)
    await s.migrate()
    yield s
    await s.close()
