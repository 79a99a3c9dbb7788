"""Seed 004's ``message_stream`` WebSocket against a real server, with ``websockets``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.conftest import ServerFactory
from tests.helpers.server import Server

STREAM_KEYS = {
    "type",
    "id",
    "sender",
    "timestamp",
    "agentId",
    "agentName",
    "agentType",
    "session_id",
    "stream_start",
    "stream_chunk",
    "stream_end",
    "metadata",
}


def receive(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return frame


def reply_frames(ws: ClientConnection) -> list[dict[str, Any]]:
    """Frames up to and including the next ``stream_end``."""
    frames = [receive(ws)]
    while not (frames[-1]["type"] == "message_stream" and frames[-1]["stream_end"]):
        frames.append(receive(ws))
    return frames


def test_the_three_phase_exchange_frame_by_frame(server: Server) -> None:
    url = f"{server.ws_url}/ws/chat/session-004?token={server.token}"
    with connect(url) as ws:
        ws.send(json.dumps({"type": "message", "content": "Stream this reply to me please"}))
        frames = reply_frames(ws)

    echo, start, *chunks, end = frames
    # The user's message comes back as a complete message, which the seed's hook ignores.
    assert echo["type"] == "message"
    assert echo["sender"] == "user"
    assert echo["content"] == "Stream this reply to me please"
    for frame in (start, *chunks, end):
        assert frame["type"] == "message_stream"
        assert frame.keys() >= STREAM_KEYS
        assert frame["id"] == start["id"]  # one id across the three phases
        assert frame["sender"] == "ai"
        assert frame["session_id"] == "session-004"
        assert frame["metadata"]["reply_to"] == echo["id"]
    assert (start["stream_start"], start["stream_chunk"], start["stream_end"]) == (
        True,
        False,
        False,
    )
    assert "chunk" not in start
    assert start["metadata"]["streaming"] is True
    assert len(chunks) > 1
    for chunk in chunks:
        assert (chunk["stream_start"], chunk["stream_chunk"], chunk["stream_end"]) == (
            False,
            True,
            False,
        )
    assert "".join(c["chunk"] for c in chunks) == "Stream this reply to me please"
    assert (end["stream_start"], end["stream_chunk"], end["stream_end"]) == (False, False, True)
    assert end["metadata"]["streaming"] is False

    # The session is a conversation: the canonical API has the turn.
    with server.client() as client:
        page = client.get("/api/v1/conversations").json()["items"]
        session = next(c for c in page if c["key"] == "message_stream:session-004")
        history = client.get(f"/api/v1/conversations/{session['id']}/messages").json()["items"]
    assert [m["content"] for m in history] == ["Stream this reply to me please"] * 2
    assert history[1]["id"] == start["id"]


def test_a_new_session_and_a_second_turn_on_reconnect(server: Server) -> None:
    with connect(f"{server.ws_url}/ws/chat?token={server.token}") as ws:
        ws.send('{"type":"message","content":"first turn"}')
        session_id = reply_frames(ws)[1]["session_id"]
    with connect(f"{server.ws_url}/ws/chat/{session_id}?token={server.token}") as ws:
        ws.send('{"type":"message","content":"second turn","id":"c-2"}')
        frames = reply_frames(ws)
    assert frames[1]["session_id"] == session_id
    with server.client() as client:
        history = client.get(f"/api/v1/conversations/{session_id}/messages").json()["items"]
    assert [m["content"] for m in history if m["role"] == "user"] == ["first turn", "second turn"]


def test_bad_frames_get_a_system_message_and_the_socket_stays_usable(server: Server) -> None:
    with connect(f"{server.ws_url}/ws/chat/s-errors?token={server.token}") as ws:
        ws.send("{nope")
        notice = receive(ws)
        assert notice["type"] == "message"
        assert notice["sender"] == "system"
        assert notice["metadata"]["error"] == "invalid_json"
        ws.send('{"type":"message","content":""}')
        assert receive(ws)["metadata"]["error"] == "empty_content"
        ws.send('{"type":"ping"}')
        assert receive(ws) == {"type": "pong"}
        ws.send('{"type":"message","content":"ok"}')
        assert reply_frames(ws)[-1]["stream_end"] is True


def test_authentication(server: Server) -> None:
    with pytest.raises(InvalidStatus) as missing:
        connect(f"{server.ws_url}/ws/chat/x").close()
    assert missing.value.response.status_code == 401
    headers = {"Authorization": f"Bearer {server.token}"}
    with connect(f"{server.ws_url}/ws/chat/x", additional_headers=headers) as ws:
        ws.send('{"type":"ping"}')
        assert receive(ws) == {"type": "pong"}


def test_stop_ends_the_stream_and_keeps_the_partial(server_factory: ServerFactory) -> None:
    server = server_factory(scripted_delay_ms=150, scripted_chunk_words=1)
    long = " ".join(f"w{i}" for i in range(100))
    with connect(f"{server.ws_url}/ws/chat/s-stop?token={server.token}") as ws:
        ws.send(json.dumps({"type": "message", "content": long}))
        assert receive(ws)["type"] == "message"
        start = receive(ws)
        assert start["stream_start"]
        assert receive(ws)["stream_chunk"]
        ws.send('{"type":"stop"}')
        frames = reply_frames(ws)
    with server.client() as client:
        reply = client.get(f"/api/v1/messages/{start['id']}").json()
    assert reply["status"] == "cancelled"
    assert frames[-1]["id"] == start["id"]
    assert 0 < len(reply["content"]) < len(long)
