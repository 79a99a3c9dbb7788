"""The canonical WebSocket: sending, fan-out to every socket, resume, cancel, bad frames."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.conftest import ServerFactory
from tests.helpers.server import Server, text_of

TEXT = "Every socket on the conversation sees this very same reply, word for word."


def open_ws(server: Server, cid: str, token: str | None = None) -> ClientConnection:
    return connect(f"{server.ws_url}/api/v1/conversations/{cid}/ws?token={token or server.token}")


def recv(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    return dict(json.loads(ws.recv(timeout)))


def collect_reply(ws: ClientConnection) -> list[dict[str, Any]]:
    events = []
    while True:
        event = recv(ws)
        if event["type"] in ("pong", "error"):
            continue
        events.append(event)
        if event["type"] in ("message.end", "message.error"):
            return events


def new_conversation(server: Server) -> str:
    with server.client() as client:
        return str(client.post("/api/v1/conversations", json={}).json()["id"])


def test_ws_send_streams_the_reply(server: Server) -> None:
    cid = new_conversation(server)
    with open_ws(server, cid) as ws:
        ws.send(json.dumps({"type": "message.send", "content": TEXT, "client_message_id": "ws-1"}))
        events = collect_reply(ws)
    assert events[0]["type"] == "message.start"
    assert events[0]["user_message"]["client_message_id"] == "ws-1"
    assert events[-1]["type"] == "message.end"
    assert text_of(events) == TEXT
    with server.client() as client:
        stored = client.get(f"/api/v1/messages/{events[0]['message_id']}").json()
    assert stored["content"] == TEXT


def test_two_sockets_on_one_conversation_see_the_same_reply(server: Server) -> None:
    cid = new_conversation(server)
    with open_ws(server, cid) as tab1, open_ws(server, cid) as tab2:
        # Both sockets must be registered before the send: a ping round-trip proves it.
        for tab in (tab1, tab2):
            tab.send('{"type":"ping"}')
            assert recv(tab) == {"type": "pong"}
        tab1.send(json.dumps({"type": "message.send", "content": TEXT}))
        one = collect_reply(tab1)
        two = collect_reply(tab2)
    assert text_of(one) == text_of(two) == TEXT
    assert one[0]["message_id"] == two[0]["message_id"]
    assert one[-1] == two[-1]


def test_ws_resume_and_cancel(server_factory: ServerFactory) -> None:
    server = server_factory(scripted_delay_ms=100, scripted_chunk_words=1)
    cid = new_conversation(server)
    long_text = " ".join(f"t{i}" for i in range(80))
    with open_ws(server, cid) as ws:
        ws.send(json.dumps({"type": "message.send", "content": long_text}))
        first = [recv(ws) for _ in range(4)]
    mid = first[0]["message_id"]
    with open_ws(server, cid) as ws:
        ws.send(json.dumps({"type": "stream.resume", "message_id": mid, "after": first[-1]["seq"]}))
        more = [recv(ws) for _ in range(2)]
        ws.send(json.dumps({"type": "message.cancel", "message_id": mid}))
        rest = collect_reply(ws)
    events = first + more + rest
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
    assert rest[-1]["type"] == "message.end"
    assert rest[-1]["finish_reason"] == "cancelled"
    with server.client() as client:
        stored = client.get(f"/api/v1/messages/{mid}").json()
    assert stored["status"] == "cancelled"
    assert stored["content"] == text_of(events)


def test_malformed_frames_get_error_frames_and_the_socket_keeps_working(server: Server) -> None:
    cid = new_conversation(server)
    with open_ws(server, cid) as ws:
        ws.send("{not json")
        assert recv(ws)["error"]["code"] == "invalid_json"
        ws.send('{"type":"teleport"}')
        assert recv(ws)["error"]["code"] == "unknown_type"
        ws.send('{"type":"message.send"}')
        assert recv(ws)["error"]["code"] == "invalid_frame"
        ws.send("[1, 2]")
        assert recv(ws)["error"]["code"] == "invalid_frame"
        ws.send(b"\x00\x01")
        assert recv(ws)["error"]["code"] == "unsupported_frame"
        ws.send('{"type":"message.send","content":"   ","client_message_id":"blank-1"}')
        blank = recv(ws)
        assert blank["error"]["code"] == "empty_content"
        assert blank["client_message_id"] == "blank-1"
        ws.send('{"type":"message.cancel","message_id":"00000000-0000-7000-8000-000000000000"}')
        error = recv(ws)
        assert error["error"]["code"] == "not_found"
        assert error["message_id"] == "00000000-0000-7000-8000-000000000000"
        ws.send('{"type":"ping"}')
        assert recv(ws) == {"type": "pong"}
        ws.send(json.dumps({"type": "message.send", "content": "still here"}))
        assert text_of(collect_reply(ws)) == "still here"


def test_ws_handshake_is_refused_without_auth_or_for_another_users_conversation(
    server: Server,
) -> None:
    cid = new_conversation(server)
    with pytest.raises(InvalidStatus) as missing:
        connect(f"{server.ws_url}/api/v1/conversations/{cid}/ws").close()
    assert missing.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as bad:
        open_ws(server, cid, token="tw_wrong").close()
    assert bad.value.response.status_code == 401
    other = server.create_user("ws-stranger")
    with pytest.raises(InvalidStatus) as foreign:
        open_ws(server, cid, token=other).close()
    assert foreign.value.response.status_code == 404
    assert b"not_found" in foreign.value.response.body


def test_ws_header_auth_works_too(server: Server) -> None:
    cid = new_conversation(server)
    with connect(
        f"{server.ws_url}/api/v1/conversations/{cid}/ws",
        additional_headers={"Authorization": f"Bearer {server.token}"},
    ) as ws:
        ws.send('{"type":"ping"}')
        assert recv(ws) == {"type": "pong"}
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
