"""Ids in any case, on every path and in every frame that carries one, in every dialect:
Swift's ``UUID.uuidString`` is upper case, and the seeds' apps send it as it is."""

from __future__ import annotations

import json

from websockets.sync.client import connect

from tests.helpers.server import Server


def test_every_route_and_frame_takes_upper_case_ids(server: Server) -> None:
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        up = cid.upper()
        sent = client.post(f"/api/v1/conversations/{up}/messages", json={"content": "Hi there"})
        assert sent.status_code in (200, 201), sent.text
        reply = sent.json()["assistant_message"]["id"]
        assert client.get(f"/api/v1/conversations/{up}").json()["id"] == cid
        assert client.patch(f"/api/v1/conversations/{up}", json={"title": "T"}).status_code == 200
        items = client.get(f"/api/v1/conversations/{up}/messages").json()["items"]
        assert [m["id"] for m in items][-1] == reply
        assert client.get(f"/api/v1/messages/{reply.upper()}").json()["id"] == reply
        events = client.get(f"/api/v1/messages/{reply.upper()}/events")
        assert events.status_code == 200
        assert client.post(f"/api/v1/messages/{reply.upper()}/cancel").status_code == 200
        # Dialects naming a conversation by its id: a session, a chat, an image-chat session.
        session = client.get(f"/sessions/{up}/messages")
        assert [m["id"] for m in session.json()][-1] == reply
        assert client.get(f"/api/chat/{up}/stream").status_code == 204
    with connect(f"{server.ws_url}/api/v1/conversations/{up}/ws?token={server.token}") as ws:
        ws.send(json.dumps({"type": "stream.resume", "message_id": reply.upper(), "after": -1}))
        kinds = []
        while not kinds or kinds[-1] not in ("message.end", "message.error"):
            kinds.append(json.loads(ws.recv(timeout=10))["type"])
        assert kinds[0] == "message.start"
        ws.send(json.dumps({"type": "message.cancel", "message_id": reply.upper()}))
        ws.send('{"type":"ping"}')
        assert json.loads(ws.recv(timeout=10))["type"] == "pong"  # no error for the cancel
    with connect(f"{server.ws_url}/ws/chat/{up}?token={server.token}") as ws:
        ws.send('{"type":"message","content":"Same conversation"}')
        first = json.loads(ws.recv(timeout=10))
        assert first["session_id"] == up  # the name the client used
    with server.client() as client:
        items = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
    assert "Same conversation" in [m["content"] for m in items]
