"""A chat server on each database engine, and the calls the chat tests make."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import services
from tests.helpers.server import Server, sse_events, start_server

# The scripted model echoes the user's message two words a chunk, at most three chunks a
# reply, and sees a context window of 30 words.
CHAT_SETTINGS = {
    "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "2",
    "TOKENWIRE_SCRIPTED_MAX_CHUNKS": "3",
    "TOKENWIRE_SCRIPTED_CONTEXT_WORDS": "30",
}


def chat_server(request: pytest.FixtureRequest, tmp: Path) -> Iterator[Server]:
    """A server on SQLite or (``request.param == "postgresql"``) on a fresh PostgreSQL
    database."""
    env = dict(CHAT_SETTINGS)
    database: tuple[str, str] | None = None
    if request.param == "postgresql":
        admin = str(request.getfixturevalue("postgres_server"))
        url = services.create_database(admin)
        database = (admin, url)
        env["TOKENWIRE_DATABASE_URL"] = url
    server = start_server(tmp, env)
    try:
        yield server
    finally:
        server.stop()
        if database is not None:
            services.drop_database(*database)


def conversation(client: httpx.Client, **body: object) -> str:
    response = client.post("/api/v1/conversations", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def send(client: httpx.Client, cid: str, content: str, **extra: object) -> dict[str, Any]:
    """Send and wait for the reply: the turn as JSON."""
    response = client.post(
        f"/api/v1/conversations/{cid}/messages", json={"content": content, **extra}
    )
    assert response.status_code == 201, response.text
    turn: dict[str, Any] = response.json()
    return turn


def branch(client: httpx.Client, cid: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/conversations/{cid}/messages", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def stream(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    """POST ``path`` asking for SSE; the canonical events."""
    with client.stream("POST", path, headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200, response.read()
        return list(sse_events(response))


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """The first truthy result of ``check``, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)
