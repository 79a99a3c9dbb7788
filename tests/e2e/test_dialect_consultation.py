"""The consultation API of seeds 000/001 against a real server, with the ``websockets`` client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.conftest import ServerFactory
from tests.helpers.server import Server, start_server

PERSONAS = """
personas:
  coach: {system_prompt: You are a patient running coach.}
  observer: {system_prompt: You watch and summarise.}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This module's server knows two personas besides the built-in ones: a consultation
    must name a persona the server has (an unknown one is a 422)."""
    data = tmp_path_factory.mktemp("consultations")
    (data / "personas.yaml").write_text(PERSONAS)
    srv = start_server(data, {"TOKENWIRE_PERSONAS_FILE": str(data / "personas.yaml")})
    yield srv
    srv.stop()


class WebSocketMessageWrapper(msgspec.Struct):
    """Seed 000's Swift DTO: every frame the server sends must decode with it."""

    type: str
    message: dict[str, Any] | None = None
    consultation_id: str | None = None
    content: str | None = None
    timestamp: str | None = None
    error: str | None = None


def bare(server: Server) -> httpx.Client:
    """A client of tokenwire's earlier bare shape (the seed app's envelopes are
    tests/seeds/test_seed_000_001.py's)."""
    client = server.client()
    client.headers["Prefer"] = "tokenwire-shape=bare"
    return client


def new_consultation(server: Server, persona: str) -> str:
    with bare(server) as client:
        response = client.post("/api/v1/consultations", json={"persona": persona})
        assert response.status_code in (201, 409), response.text
        body = response.json()
        return str(body["id"] if response.status_code == 201 else body["consultation_id"])


def receive(ws: ClientConnection) -> WebSocketMessageWrapper:
    raw = ws.recv(timeout=10)
    return msgspec.json.decode(raw, type=WebSocketMessageWrapper)


def test_the_seed_001_exchange_frame_by_frame(server: Server) -> None:
    # Seed 001, "Complete Flow": POST, 409 on a second POST, history, WebSocket, a message.
    with bare(server) as client:
        created = client.post("/api/v1/consultations", json={"persona": "wellness_specialist"})
        assert created.status_code == 201
        consultation = created.json()
        assert consultation["persona"] == "wellness_specialist"
        assert consultation["status"] == "active"
        cid = consultation["id"]
        again = client.post("/api/v1/consultations", json={"persona": "wellness_specialist"})
        assert again.status_code == 409
        assert again.json()["consultation_id"] == cid
        assert client.get(f"/api/v1/consultations/{cid}").json()["id"] == cid
        assert client.get(f"/api/v1/consultations/{cid}/messages").json()["messages"] == []

    url = f"{server.ws_url}/api/v1/consultations/{cid}/ws?token={server.token}"
    with connect(url) as ws:
        connected = receive(ws)
        assert connected.type == "connected"
        assert connected.consultation_id == cid
        assert connected.timestamp

        ws.send(json.dumps({"type": "message", "content": "I need help with motivation"}))
        frames = [receive(ws)]
        while frames[-1].type != "stream_complete":
            frames.append(receive(ws))

    assert frames[0].type == "message_received"
    assert frames[0].consultation_id == cid
    # One chunk or several: a socket that reads late gets the deltas so far merged.
    chunks = frames[1:-1]
    assert chunks
    assert all(
        f.type == "stream_chunk" and f.consultation_id == cid and f.timestamp for f in chunks
    )
    # The scripted model echoes: the chunks add up to the message, as the seed's client does.
    assert "".join(f.content or "" for f in chunks) == "I need help with motivation"
    assert frames[-1].consultation_id == cid

    with bare(server) as client:
        history = client.get(f"/api/v1/consultations/{cid}/messages").json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[1]["content"] == "I need help with motivation"
    assert history[1]["status"] == "complete"


def test_ping_errors_and_the_socket_stays_usable(server: Server) -> None:
    cid = new_consultation(server, "general")
    headers = {"Authorization": f"Bearer {server.token}"}
    with connect(
        f"{server.ws_url}/api/v1/consultations/{cid}/ws", additional_headers=headers
    ) as ws:
        assert receive(ws).type == "connected"
        ws.send('{"type":"ping"}')
        assert receive(ws).type == "pong"
        ws.send("not json")
        bad = receive(ws)
        assert bad.type == "error"
        assert bad.error
        ws.send('{"type":"message","content":"   "}')
        empty = receive(ws)
        assert empty.type == "error"
        assert "empty" in (empty.error or "")
        ws.send('{"type":"message","content":"still here"}')
        assert receive(ws).type == "message_received"


def test_a_socket_needs_a_token_and_an_owned_consultation(server: Server) -> None:
    cid = new_consultation(server, "general")
    with pytest.raises(InvalidStatus) as missing:
        connect(f"{server.ws_url}/api/v1/consultations/{cid}/ws").close()
    assert missing.value.response.status_code == 401
    other = server.create_user("consultation-stranger")
    with pytest.raises(InvalidStatus) as foreign:
        connect(f"{server.ws_url}/api/v1/consultations/{cid}/ws?token={other}").close()
    assert foreign.value.response.status_code == 404


def test_rest_fallback_answers_with_the_whole_reply(server: Server) -> None:
    cid = new_consultation(server, "general")
    with bare(server) as client:
        response = client.post(
            f"/api/v1/consultations/{cid}/messages", json={"content": "hi there"}
        )
        assert response.status_code == 201
        assert response.json()["message"]["content"] == "hi there"
        assert response.json()["message"]["role"] == "assistant"
        bad = client.post(f"/api/v1/consultations/{cid}/messages", json={"text": "x"})
        assert bad.status_code == 400
        assert bad.json()["error"]
        assert client.post("/api/v1/consultations", json={}).status_code == 400
        assert httpx.get(f"{server.url}/api/v1/consultations/{cid}").status_code == 401


def test_completing_frees_the_persona(server: Server) -> None:
    with bare(server) as client:
        first = client.post("/api/v1/consultations", json={"persona": "coach", "goal_id": "g1"})
        assert first.status_code == 201
        assert first.json()["goal_id"] == "g1"
        done = client.post(f"/api/v1/consultations/{first.json()['id']}/complete")
        assert done.json()["status"] == "completed"
        second = client.post("/api/v1/consultations", json={"persona": "coach"})
        assert second.status_code == 201
        listed = client.get("/api/v1/consultations", params={"persona": "coach"}).json()
        assert {c["status"] for c in listed["consultations"]} == {"active", "completed"}


def test_a_reply_started_elsewhere_reaches_the_socket(server: Server) -> None:
    cid = new_consultation(server, "observer")
    with connect(f"{server.ws_url}/api/v1/consultations/{cid}/ws?token={server.token}") as ws:
        assert receive(ws).type == "connected"
        with bare(server) as client:
            client.post(
                f"/api/v1/consultations/{cid}/messages", json={"content": "from the REST side"}
            )
        first = receive(ws)
        assert first.type == "message"
        assert first.message is not None
        assert first.message["role"] == "user"
        assert first.message["content"] == "from the REST side"
        text = ""
        while (frame := receive(ws)).type != "stream_complete":
            text += frame.content or ""
        assert text == "from the REST side"


def test_cancel_stops_the_reply_and_keeps_the_partial(server_factory: ServerFactory) -> None:
    server = server_factory(scripted_delay_ms=150, scripted_chunk_words=1)
    cid = new_consultation(server, "general")
    long = " ".join(f"w{i}" for i in range(100))
    with connect(f"{server.ws_url}/api/v1/consultations/{cid}/ws?token={server.token}") as ws:
        assert receive(ws).type == "connected"
        ws.send(json.dumps({"type": "message", "content": long}))
        assert receive(ws).type == "message_received"
        assert receive(ws).type == "stream_chunk"
        ws.send('{"type":"cancel"}')
        while receive(ws).type != "stream_complete":
            pass
    with bare(server) as client:
        reply = client.get(f"/api/v1/consultations/{cid}/messages").json()["messages"][1]
    assert reply["status"] == "cancelled"
    assert long.startswith(reply["content"])
    assert 0 < len(reply["content"]) < len(long)


def test_a_dropped_socket_does_not_stop_the_reply(server_factory: ServerFactory) -> None:
    server = server_factory(scripted_delay_ms=50, scripted_chunk_words=2)
    cid = new_consultation(server, "general")
    text = " ".join(f"w{i}" for i in range(30))
    with connect(f"{server.ws_url}/api/v1/consultations/{cid}/ws?token={server.token}") as ws:
        receive(ws)
        ws.send(json.dumps({"type": "message", "content": text}))
        assert receive(ws).type == "message_received"
    deadline = time.monotonic() + 20
    with bare(server) as client:
        while time.monotonic() < deadline:
            messages = client.get(f"/api/v1/consultations/{cid}/messages").json()["messages"]
            if messages[-1]["status"] == "complete":
                break
            time.sleep(0.1)
    assert messages[-1]["content"] == text


def test_an_unknown_persona_is_refused_in_the_dialects_error_shape(server: Server) -> None:
    with bare(server) as client:
        response = client.post("/api/v1/consultations", json={"persona": "nobody"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "unknown_persona"
    assert "coach" in body["error"]["message"]
