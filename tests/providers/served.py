"""Helpers for end-to-end model tests: a served tokenwire in front of the in-test upstream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.helpers.server import Server, sse_events
from tests.providers.upstream import Upstream

ServerFactory = Callable[..., Server]


def openai_server(factory: ServerFactory, up: Upstream, **settings: object) -> Server:
    """A server whose provider is the OpenAI-compatible upstream ``up``."""
    options: dict[str, object] = {"provider": "openai", "model": "up-model", **settings}
    return factory(openai_base_url=up.url, openai_api_key="sk-test", **options)


def conversation(client: httpx.Client, **body: object) -> str:
    # Titled, so that the model is asked for no title: the tests here read what the upstream
    # received, request by request.
    body.setdefault("title", "a test")
    response = client.post("/api/v1/conversations", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def stream(client: httpx.Client, cid: str, **body: object) -> list[dict[str, Any]]:
    """Send a message with ``Accept: text/event-stream``; the reply's events."""
    with client.stream(
        "POST",
        f"/api/v1/conversations/{cid}/messages",
        json=body,
        headers={"Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200, response.read()
        return list(sse_events(response))


def stored_reply(client: httpx.Client, cid: str) -> dict[str, Any]:
    """The conversation's last message, which must be a reply, as stored."""
    items = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
    reply: dict[str, Any] = items[-1]
    assert reply["role"] == "assistant"
    return reply
