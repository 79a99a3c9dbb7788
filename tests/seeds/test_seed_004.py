"""Seed 004: the ICUI React client (``ChatBackendClient`` and ``useChatMessages``) against a
real server, over plain ``/ws/chat`` as the app opens it (``tests/seeds/icui.py``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import ServerFactory
from tests.helpers.server import Server, start_server
from tests.providers.served import openai_server
from tests.providers.upstream import Reply, UpstreamThread
from tests.seeds.icui import Client

WORDS = " ".join(f"token{i}" for i in range(12))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``--no-auth`` (``TOKENWIRE_NO_AUTH``): the app opens ``/ws/chat`` with no credentials,
    and a browser cannot put a header on a WebSocket."""
    env = {
        "TOKENWIRE_SCRIPTED_DELAY_MS": "250",
        "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "1",
        "TOKENWIRE_NO_AUTH": "true",
    }
    srv = start_server(tmp_path_factory.mktemp("icui"), env)
    yield srv
    srv.stop()


def stored(server: Server, session_id: str) -> list[dict[str, Any]]:
    with server.client() as client:
        items: list[dict[str, Any]] = client.get(
            f"/api/v1/conversations/{session_id}/messages"
        ).json()["items"]
    return items


def ai_messages(client: Client) -> list[str]:
    return [m.content for m in client.messages if m.sender == "ai"]


def test_the_happy_path_on_plain_ws_chat_without_credentials(server: Server) -> None:
    app = Client(f"{server.ws_url}/ws/chat")
    app.connect()
    try:
        app.send("Stream this reply")
        app.until_end()
    finally:
        app.close()
    assert ai_messages(app)[-1] == "Stream this reply"
    assert app.messages[-1].metadata == {"isStreaming": False, "streamComplete": True}
    session = app.frames[-1]["session_id"]
    assert stored(server, session)[-1]["content"] == "Stream this reply"
    # The same session on the next connect: its history, as getMessageHistory reads it.
    history = httpx.get(f"{server.url}/api/chat/messages?limit=50&offset=0").json()["data"]
    assert [(m["sender"], m["content"]) for m in history[-2:]] == [
        ("user", "Stream this reply"),
        ("ai", "Stream this reply"),
    ]


@pytest.mark.parametrize("cut_after", [1, 4, 8])
def test_a_reconnect_mid_reply_ends_with_the_exact_text(server: Server, cut_after: int) -> None:
    """The app reconnects to plain ``/ws/chat`` and keeps its ``streamingMessage``: the
    reconnect finds the same session and gets the rest of the reply, once."""
    app = Client(f"{server.ws_url}/ws/chat")
    app.connect()
    app.send(WORDS)
    chunks = 0
    while chunks < cut_after:
        chunks += bool(app.receive().get("stream_chunk"))
    app.close()
    app.connect()
    try:
        app.until_end()
    finally:
        app.close()
    session = app.frames[-1]["session_id"]
    reply = stored(server, session)[-1]
    assert reply["status"] == "complete"
    shown = [m for m in app.messages if m.id == reply["id"]]
    assert len(shown) == 1
    assert shown[0].content == reply["content"] == WORDS


def test_a_poll_mid_reply_does_not_list_the_running_reply(server: Server) -> None:
    app = Client(f"{server.ws_url}/ws/chat")
    app.connect()
    try:
        app.send("Poll " + WORDS)
        while not app.receive().get("stream_chunk"):
            pass
        history = httpx.get(f"{server.url}/api/chat/messages").json()["data"]
        assert history[-1] == {**history[-1], "sender": "user", "content": "Poll " + WORDS}
        app.until_end()
    finally:
        app.close()
    # Listed once stored as finished (the end frame may go out a moment before).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        history = httpx.get(f"{server.url}/api/chat/messages").json()["data"]
        if history[-1]["sender"] == "ai":
            break
        time.sleep(0.1)
    assert (history[-1]["sender"], history[-1]["content"]) == ("ai", "Poll " + WORDS)


def test_refusals_arrive_as_messages_the_app_shows(server: Server) -> None:
    app = Client(f"{server.ws_url}/ws/chat")
    app.connect()
    try:
        assert app.ws is not None
        for frame in ("not json", '{"type":"message","content":""}', '{"type":"nope"}'):
            app.ws.send(frame)
            notice = app.receive()
            assert notice["type"] == "message"
            assert notice["sender"] == "system"
            assert notice["content"].startswith("Error: ")
            assert app.messages[-1].content == notice["content"]  # the hook shows it
    finally:
        app.close()
    # A page of a foreign origin gets no socket, token or not.
    with pytest.raises(InvalidStatus) as foreign:
        connect(f"{server.ws_url}/ws/chat", origin="http://evil.example").close()  # type: ignore[arg-type]
    assert foreign.value.response.status_code == 403


def test_without_no_auth_a_token_is_needed(server_factory: ServerFactory) -> None:
    srv = server_factory()
    with pytest.raises(InvalidStatus) as missing:
        connect(f"{srv.ws_url}/ws/chat").close()
    assert missing.value.response.status_code == 401
    app = Client(f"{srv.ws_url}/ws/chat?token={srv.token}")
    app.connect()
    try:
        app.send("With a token")
        app.until_end()
    finally:
        app.close()
    assert ai_messages(app) == ["With a token"]


def test_a_failed_reply_ends_its_stream_with_the_error(server_factory: ServerFactory) -> None:
    with UpstreamThread(Reply(deltas=("Half", " an", " answer"), delay=0.05, cut=True)) as up:
        srv = openai_server(server_factory, up)
        app = Client(f"{srv.ws_url}/ws/chat?token={srv.token}")
        app.connect()
        try:
            app.send("Tell me")
            app.until_end()
        finally:
            app.close()
        [shown] = app.messages
        assert shown.content.startswith("Half an answer\n\nExecution error: ")
        assert shown.metadata == {"isStreaming": False, "streamComplete": True}
        headers = {"Authorization": f"Bearer {srv.token}"}
        history = httpx.get(f"{srv.url}/api/chat/messages", headers=headers).json()["data"]
        assert [m["sender"] for m in history] == ["user"]  # a failure is not an answer
