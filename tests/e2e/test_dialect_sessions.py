"""Seed 002's session SSE against a real server, raw and with ``httpx-sse``."""

from __future__ import annotations

import json
import re
import time

import httpx
from httpx_sse import connect_sse

from tests.conftest import ServerFactory
from tests.helpers.server import Server

TEXT = "Hello there, this reply comes three words at a time."


def test_the_seed_exchange_byte_for_byte(server: Server) -> None:
    with (
        server.client() as client,
        client.stream(
            "POST",
            "/sessions/sess-raw/messages/stream",
            json={"content": TEXT, "role": "user"},
        ) as response,
    ):
        assert response.status_code == 200
        # Seed 002, "Headers".
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["connection"] == "keep-alive"
        body = response.read().decode()

    events = body.split("\n\n")
    assert events[-1] == ""
    start, *tokens, end = events[:-1]
    match = re.fullmatch(r'data: \{"type": "start", "messageId": "([0-9a-f-]{36})"\}', start)
    assert match is not None
    message_id = match.group(1)
    assert len(tokens) > 1
    text = ""
    for token in tokens:
        assert token.startswith('data: {"type": "token", "content": ')
        text += json.loads(token.removeprefix("data: "))["content"]
    assert text == TEXT
    assert end == f'data: {{"type": "end", "messageId": "{message_id}"}}'

    # "Automatic message refresh after streaming completion".
    with server.client() as client:
        messages = client.get("/sessions/sess-raw/messages").json()
    assert [(m["role"], m["content"]) for m in messages] == [("user", TEXT), ("assistant", TEXT)]
    assert messages[1]["id"] == message_id
    assert messages[1]["status"] == "complete"


def test_with_httpx_sse(server: Server) -> None:
    with (
        server.client() as client,
        connect_sse(
            client,
            "POST",
            "/sessions/sess-sse/messages/stream",
            json={"content": "one two three four"},
        ) as source,
    ):
        chunks = [json.loads(event.data) for event in source.iter_sse()]
    assert [c["type"] for c in chunks] == ["start", "token", "token", "end"]
    assert "".join(c["content"] for c in chunks if c["type"] == "token") == "one two three four"
    assert chunks[0]["messageId"] == chunks[-1]["messageId"]


def test_errors_come_in_the_seed_shape(server: Server) -> None:
    with server.client() as client:
        bad = client.post("/sessions/s-bad/messages/stream", json={"content": ""})
        assert bad.status_code == 400
        assert bad.text == 'data: {"type": "error", "error": "content must not be empty"}\n\n'
        wrong = client.post("/sessions/s-bad/messages/stream", content=b"{not json")
        assert wrong.status_code == 400
        assert wrong.text.startswith('data: {"type": "error", "error": ')
        missing = client.get("/sessions/never-used/messages")
        assert missing.status_code == 404
        assert missing.json()["type"] == "error"
    anonymous = httpx.post(f"{server.url}/sessions/s/messages/stream", json={"content": "x"})
    assert anonymous.status_code == 401
    assert anonymous.text == 'data: {"type": "error", "error": "missing bearer token"}\n\n'


def test_cors_origins_come_from_settings(server_factory: ServerFactory, server: Server) -> None:
    origin = "http://chat.example"
    preflight_headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    # Not ``*`` by default: without configured origins, no browser origin is allowed.
    default = httpx.options(f"{server.url}/sessions/s/messages/stream", headers=preflight_headers)
    assert "access-control-allow-origin" not in default.headers
    configured = server_factory(cors_origins=origin)
    preflight = httpx.options(
        f"{configured.url}/sessions/s/messages/stream", headers=preflight_headers
    )
    assert preflight.headers["access-control-allow-origin"] == origin
    with (
        httpx.Client(base_url=configured.url, headers=configured.headers(Origin=origin)) as client,
        client.stream("POST", "/sessions/s/messages/stream", json={"content": "hi"}) as response,
    ):
        assert response.headers["access-control-allow-origin"] == origin
        response.read()


def test_a_client_that_goes_away_does_not_stop_the_reply(server_factory: ServerFactory) -> None:
    server = server_factory(scripted_delay_ms=60, scripted_chunk_words=2)
    text = " ".join(f"word{i}" for i in range(30))
    with (
        server.client() as client,
        connect_sse(
            client, "POST", "/sessions/s-gone/messages/stream", json={"content": text}
        ) as source,
    ):
        events = source.iter_sse()
        assert json.loads(next(events).data)["type"] == "start"
        assert json.loads(next(events).data)["type"] == "token"
    deadline = time.monotonic() + 20
    with server.client() as client:
        while time.monotonic() < deadline:
            messages = client.get("/sessions/s-gone/messages").json()
            if messages[-1]["role"] == "assistant":  # listed once it is finished
                break
            time.sleep(0.1)
    assert messages[-1]["status"] == "complete"
    assert messages[-1]["content"] == text
