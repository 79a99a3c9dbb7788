from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.chat import chat_server as start_chat_server
from tests.helpers.server import Server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def chat_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One chat server per database engine for a module's tests (``tests/helpers/chat.py``)."""
    yield from start_chat_server(request, tmp_path_factory.mktemp(f"chat-{request.param}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings for ``server_factory`` that put a server on SQLite (none: its default) or
    on a fresh PostgreSQL database."""
    if request.param == "postgresql":
        return {"database_url": str(request.getfixturevalue("postgres_url"))}
    return {}
