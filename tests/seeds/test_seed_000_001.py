"""Seeds 000 and 001: the Lume app's consultation clients, decoding as its Swift does, against
a real server (``tests/seeds/lume.py`` is the port)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import msgspec
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import ServerFactory
from tests.helpers.server import Server, start_server
from tests.providers.served import openai_server
from tests.providers.upstream import Reply, UpstreamThread
from tests.seeds import lume
from tests.seeds.swift import decode, iso8601_date, uuid_string

WORDS = " ".join(f"word{i}" for i in range(12))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One word every 250 ms: a reply lasts long enough to cut it where a test wants."""
    data = tmp_path_factory.mktemp("lume")
    names = [
        "general_wellness",
        "cut_1",
        "cut_3",
        "cut_7",
        "poller",
        "refusals",
        "clock",
        "archive",
    ]
    listed = "".join(f"  {n}: {{system_prompt: You help.}}\n" for n in names)
    (data / "personas.yaml").write_text(f"personas:\n{listed}")
    env = {
        "TOKENWIRE_SCRIPTED_DELAY_MS": "250",
        "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "1",
        "TOKENWIRE_PERSONAS_FILE": str(data / "personas.yaml"),
    }
    srv = start_server(data, env)
    yield srv
    srv.stop()


def manager(server: Server) -> lume.Manager:
    return lume.Manager(server.url, server.ws_url, server.token)


def service(server: Server) -> httpx.Client:
    """``ChatBackendService``'s ``HTTPClient``."""
    headers = {"Authorization": f"Bearer {server.token}", "X-API-Key": "app-key"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def fresh(server: Server, name: str) -> lume.Manager:
    """A manager with a new consultation of persona ``name`` (an earlier one completed): one
    active consultation per persona, so each test takes a persona of its own."""
    m = manager(server)
    found = m.get_or_create(name)
    with service(server) as client:
        client.post(f"/api/v1/consultations/{found.id}/complete")
    made = m.get_or_create(name)
    assert made.id != found.id
    m.consultation_id = made.id
    return m


def stored_reply(server: Server, cid: str) -> dict[str, object]:
    with server.client() as client:
        client.headers["Prefer"] = "tokenwire-shape=bare"
        messages = client.get(f"/api/v1/consultations/{cid}/messages").json()["messages"]
    reply: dict[str, object] = messages[-1]
    assert reply["role"] == "assistant"
    return reply


def test_the_happy_path_decodes_as_the_app_decodes(server: Server) -> None:
    m = manager(server)
    made = m.get_or_create("wellness_specialist", goal_id="g-1")
    assert made.persona == "wellness_specialist"
    assert made.message_count == 0
    iso8601_date(made.created_at)
    # The second create is the 409 the app turns into a fetch of the existing one.
    again = m.get_or_create("wellness_specialist")
    assert again.id == made.id
    with service(server) as client:
        conflict = client.post("/api/v1/consultations", json={"persona": "wellness_specialist"})
        assert conflict.status_code == 409
        details = decode(conflict.content, lume.HTTPConflictErrorResponse).error.details
        assert details is not None
        assert uuid.UUID(details.existing_consultation_id) == uuid.UUID(made.id)
    m.consultation_id = made.id
    m.load_history()
    assert m.messages == []
    m.connect()
    try:
        assert m.until("connected")[0].consultation_id == made.id
        m.send("I need help with motivation")
        frames = m.until("stream_complete")
    finally:
        m.disconnect()
    assert frames[0].type == "message_received"
    assert m.undecodable == []  # every frame decoded with .iso8601
    assert [(x.role, x.content) for x in m.messages] == [
        ("user", "I need help with motivation"),
        ("assistant", "I need help with motivation"),
    ]
    assert not m.messages[-1].is_streaming
    m.load_history()
    assert [x.content for x in m.messages] == ["I need help with motivation"] * 2
    with service(server) as client:
        listed = client.get("/api/v1/consultations", params={"limit": 20, "offset": 0})
        page = decode(listed.content, lume.ConversationsListResponse).data
        assert made.id in [c.id for c in page.consultations]
        one = client.get(f"/api/v1/consultations/{uuid_string(made.id)}")
        assert decode(one.content, lume.ConversationResponse).data.message_count == 2


def test_upper_case_ids_on_every_path_and_socket(server: Server) -> None:
    """``ChatBackendService`` builds its paths from ``UUID.uuidString``: upper case."""
    m = fresh(server, "general_wellness")
    assert m.consultation_id is not None
    upper = uuid_string(m.consultation_id)
    with service(server) as client:
        got = client.get(f"/api/v1/consultations/{upper}")
        assert decode(got.content, lume.ConversationResponse).data.id == m.consultation_id
        sent = client.post(f"/api/v1/consultations/{upper}/messages", json={"content": "Hi"})
        assert sent.status_code == 201, sent.text
        answer = decode(sent.content, lume.MessageResponse).data
        assert answer.assistant_message is not None
        assert answer.assistant_message.content == "Hi"
        history = client.get(f"/api/v1/consultations/{upper}/messages?limit=50&offset=0")
        listed = decode(history.content, lume.MessagesListResponse).data
        assert [x.content for x in listed.messages] == ["Hi", "Hi"]
        assert (listed.total, listed.has_more) == (2, False)
        renamed = client.put(f"/api/v1/consultations/{upper}", json={"title": "Renamed"})
        assert decode(renamed.content, lume.ConversationResponse).data.id == m.consultation_id
    # The legacy socket of seed 000, on the upper-case path, decoding ``WebSocketMessageWrapper``.
    url = f"{server.ws_url}/api/v1/consultations/{upper}/ws"
    with connect(url, additional_headers=m.headers()) as ws:
        first = decode(ws.recv(timeout=10), lume.WebSocketMessageWrapper)
        assert first.type == "connected"
        # WebSocketMessagePayload: type, content, conversationId (upper case)
        payload = {"type": "message", "content": "Upper", "conversationId": upper}
        ws.send(msgspec.json.encode(payload).decode())
        text = ""
        while (frame := decode(ws.recv(timeout=20), lume.WebSocketMessageWrapper)).type != (
            "stream_complete"
        ):
            text += frame.content or ""
        assert text == "Upper"


@pytest.mark.parametrize("cut_after", [1, 3, 7])
def test_a_reconnect_mid_reply_ends_with_the_exact_text(server: Server, cut_after: int) -> None:
    """The app keeps ``currentStreamingMessage`` across a reconnect and names no resume point:
    the next socket must send the rest, never the start again."""
    m = fresh(server, f"cut_{cut_after}")
    m.connect()
    m.until("connected")
    m.send(WORDS)
    chunks = 0
    while chunks < cut_after:
        frame = m.receive()
        chunks += frame is not None and frame.type == "stream_chunk"
    m.disconnect()  # the network drops; the app reconnects to the same consultation
    m.connect()
    try:
        m.until("stream_complete")
    finally:
        m.disconnect()
    assert m.consultation_id is not None
    stored = stored_reply(server, m.consultation_id)
    assert stored["status"] == "complete"
    shown = [x for x in m.messages if x.role == "assistant"]
    assert len(shown) == 1
    assert shown[0].content == stored["content"] == WORDS
    assert m.undecodable == []


def test_a_poll_mid_reply_waits_for_the_finished_reply(server: Server) -> None:
    m = fresh(server, "poller")
    m.connect()
    m.until("connected")
    m.send(WORDS)
    m.until("stream_chunk")
    m.disconnect()  # the socket fails; the app polls
    m.load_history()
    assert m.messages[-1].role == "user"  # the poller does not stop on a partial reply
    assert m.poll_for_ai_response(attempts=80)
    assert m.messages[-1].content == WORDS


def test_every_refusal_arrives_in_the_shape_the_app_shows(server: Server) -> None:
    m = fresh(server, "refusals")
    assert m.consultation_id is not None
    with service(server) as client:
        bad = client.post(f"/api/v1/consultations/{m.consultation_id}/messages", json={"x": 1})
        assert bad.status_code == 400
        assert lume.http_error(bad).message
        empty = client.post(
            f"/api/v1/consultations/{m.consultation_id}/messages", json={"content": " "}
        )
        assert (empty.status_code, lume.http_error(empty).code) == (400, "empty_content")
        unknown = client.get(f"/api/v1/consultations/{uuid_string(str(uuid.uuid4()))}")
        assert (unknown.status_code, lume.http_error(unknown).code) == (404, "not_found")
        persona_ = client.post("/api/v1/consultations", json={"persona": "nobody"})
        assert (persona_.status_code, lume.http_error(persona_).code) == (422, "unknown_persona")
        keeps = client.put(f"/api/v1/consultations/{m.consultation_id}", json={"persona": "x"})
        assert keeps.status_code in (400, 422)
        assert lume.http_error(keeps).message
    anonymous = httpx.get(f"{server.url}/api/v1/consultations")
    assert (anonymous.status_code, lume.http_error(anonymous).code) == (401, "unauthorized")
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{server.ws_url}/api/v1/consultations/{m.consultation_id}/ws").close()
    assert refused.value.response.status_code == 401
    m.connect()
    try:
        m.until("connected")
        for frame in ("not json", '{"type":"mesage"}', '{"type":"message","content":""}'):
            assert m.ws is not None
            m.ws.send(frame)
            error = m.until("error")[-1]
            assert error.error
            assert m.error == error.error
        m.ws.send('{"type":"ping"}')
        assert m.until("pong")
    finally:
        m.disconnect()
    assert m.undecodable == []


def test_a_failed_reply_never_looks_answered(server_factory: ServerFactory) -> None:
    with UpstreamThread(Reply(deltas=("Half", " an", " answer"), delay=0.05, cut=True)) as up:
        srv = openai_server(server_factory, up)
        m = lume.Manager(srv.url, srv.ws_url, srv.token)
        m.consultation_id = m.get_or_create("wellness_specialist").id
        m.connect()
        try:
            m.until("connected")
            m.send("Tell me")
            frames = m.until("stream_complete")
        finally:
            m.disconnect()
        assert "error" in [f.type for f in frames]
        assert m.error
        assert m.undecodable == []
        # The history the app reloads (and polls) does not list the failed reply.
        m.load_history()
        assert [x.role for x in m.messages] == ["user"]
        # The REST fallback answers the failure as an error, not as a 201 with partial text.
        with httpx.Client(base_url=srv.url, headers=m.headers(), timeout=30) as client:
            sent = client.post(
                f"/api/v1/consultations/{uuid_string(m.consultation_id)}/messages",
                json={"content": "Again"},
            )
        assert sent.status_code == 502
        assert lume.http_error(sent).message


def test_frames_carry_whole_second_timestamps(server: Server) -> None:
    m = fresh(server, "clock")
    m.connect()
    try:
        assert m.ws is not None
        raw = m.ws.recv(timeout=10)
    finally:
        m.disconnect()
    stamp = msgspec.json.decode(raw)["timestamp"]
    iso8601_date(stamp)
    with pytest.raises(ValueError, match="ISO8601"):
        iso8601_date("2026-11-30T21:48:51.413Z")  # what the frames carried before
    assert time.time() - iso8601_date(stamp).timestamp() < 60


def test_archiving_frees_the_persona_and_an_archived_one_stays_archived(server: Server) -> None:
    m = fresh(server, "archive")
    assert m.consultation_id is not None
    upper = uuid_string(m.consultation_id)
    with service(server) as client:
        archived = client.put(f"/api/v1/consultations/{upper}", json={"is_archived": True})
        assert decode(archived.content, lume.ConversationResponse).data.status == "archived"
        again = client.put(f"/api/v1/consultations/{upper}", json={"is_archived": False})
        assert again.status_code == 400
        assert "is_archived" in lume.http_error(again).message
        made = client.post("/api/v1/consultations", json={"persona": "archive"})
        assert made.status_code == 201
        new = decode(made.content, lume.CreateConversationResponse).data.consultation
        assert new.id != m.consultation_id
        assert client.delete(f"/api/v1/consultations/{uuid_string(new.id)}").status_code == 204
        gone = client.get(f"/api/v1/consultations/{new.id}")
        assert (gone.status_code, lume.http_error(gone).code) == (404, "not_found")
