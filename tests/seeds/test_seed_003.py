"""Seed 003: the StudyAI image chat's ``StreamingChatService`` (``tests/seeds/study_ai.py``),
against the engine and through ``tokenwire gateway``."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.e2e.test_gateway import PIXEL, Gateway, start_gateway, stop
from tests.helpers.server import Server, start_server
from tests.providers.served import openai_server
from tests.providers.upstream import Reply, UpstreamThread
from tests.seeds.study_ai import StreamingChatService

ENGINE = "/api/v1/chat-image-stream"
GATEWAY = "/api/ai/chat-image-stream"


def request(**fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "base64_image": PIXEL,
        "prompt": "What is in this image?",
        "subject": "general",
        "session_id": "test_session",
        "student_id": "test_student",
    }
    return {**body, **fields}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Gateway]]:
    data = tmp_path_factory.mktemp("studyai")
    server = start_server(
        data, {"TOKENWIRE_MAX_IMAGE_BYTES": "2048", "TOKENWIRE_MAX_BODY_BYTES": "65536"}
    )
    with pytest.MonkeyPatch.context() as env:  # the gateway's own limit, 64 KiB here
        env.setenv("TOKENWIRE_GATEWAY_MAX_PAYLOAD_BYTES", "65536")
        gateway = start_gateway(server.url, data)
    yield server, gateway
    stop(gateway)
    server.stop()


def client(url: str, token: str | None) -> httpx.Client:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=url, headers=headers, timeout=30)


@pytest.mark.parametrize("via", ["engine", "gateway"])
def test_the_happy_path(stack: tuple[Server, Gateway], via: str) -> None:
    server, gateway = stack
    base, path = (server.url, ENGINE) if via == "engine" else (gateway.url, GATEWAY)
    app = StreamingChatService()
    with client(base, server.token) as http:
        app.stream_chat_image(http, path, request(session_id=f"happy-{via}"))
    assert (app.is_streaming, app.stream_error) == (False, None)
    assert app.streaming_text == "What is in this image?"


def test_an_upper_case_session_id_continues_that_conversation(
    stack: tuple[Server, Gateway],
) -> None:
    server, _ = stack
    with server.client() as http:
        cid = http.post("/api/v1/conversations", json={}).json()["id"]
    app = StreamingChatService()
    with client(server.url, server.token) as http:
        app.stream_chat_image(http, ENGINE, request(session_id=cid.upper()))
        whole = http.post("/api/v1/chat-image", json=request(session_id=cid.upper()))
        assert whole.status_code == 200
        stopped = http.post(f"/api/v1/messages/{whole.json()['message_id'].upper()}/cancel")
        assert stopped.status_code == 200
    with server.client() as http:
        items = http.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
    assert [m["role"] for m in items] == ["user", "assistant"] * 2


@pytest.mark.parametrize("via", ["engine", "gateway"])
def test_every_refusal_reaches_the_app_as_an_error_event(
    stack: tuple[Server, Gateway], via: str
) -> None:
    """The app reads only ``data:`` lines: a refusal must be one, or it spins for ever."""
    server, gateway = stack
    base, path = (server.url, ENGINE) if via == "engine" else (gateway.url, GATEWAY)
    big_image = base64.b64encode(base64.b64decode(PIXEL) + b"\0" * 4096).decode()
    cases: list[tuple[str | None, dict[str, object] | bytes, int]] = [
        (None, request(), 401),
        (server.token, request(prompt="  "), 400),
        (server.token, b"{not json", 400),
        (server.token, request(base64_image="not base64!"), 422),
        (server.token, request(base64_image=base64.b64encode(b"plain text").decode()), 422),
        (server.token, request(base64_image=big_image), 413),
        (server.token, request(base64_image="A" * 70_000), 413),  # over the body limit
    ]
    for token, body, status in cases:
        app = StreamingChatService()
        with client(base, token) as http:
            response = (
                http.post(path, content=body)
                if isinstance(body, bytes)
                else http.post(path, json=body)
            )
            assert response.status_code == status, (
                body if isinstance(body, bytes) else 0,
                response.text,
            )
            assert response.headers["content-type"].startswith("text/event-stream")
            app.stream_chat_image(http, path, body)
        assert app.is_streaming is False, (status, response.text)
        assert app.stream_error, status


def test_images_on_a_model_without_them_are_refused_before_anything_is_stored(
    server_factory: ServerFactory,
) -> None:
    with UpstreamThread(Reply()) as up:
        srv = openai_server(server_factory, up, openai_images="false")
        app = StreamingChatService()
        with client(srv.url, srv.token) as http:
            response = http.post(ENGINE, json=request(session_id="no-eyes"))
            assert response.status_code == 422
            assert "does not take images" in response.text
            app.stream_chat_image(http, ENGINE, request(session_id="no-eyes"))
        assert (app.is_streaming, bool(app.stream_error)) == (False, True)
        with srv.client() as http:
            assert http.get("/api/v1/conversations").json()["items"] == []
        assert up.requests == []


def test_a_failed_reply_is_an_error_event(server_factory: ServerFactory, tmp_path: Path) -> None:
    with UpstreamThread(Reply(deltas=("Half", " an", " answer"), delay=0.05, cut=True)) as up:
        srv = openai_server(server_factory, up)
        app = StreamingChatService()
        with client(srv.url, srv.token) as http:
            app.stream_chat_image(http, ENGINE, request(session_id="fails"))
            whole = http.post("/api/v1/chat-image", json=request(session_id="fails"))
        assert app.streaming_text == "Half an answer"
        assert (app.is_streaming, bool(app.stream_error)) == (False, True)
        assert whole.status_code == 502
        assert whole.json()["type"] == "error"


@pytest.mark.parametrize("cut_after", [1, 3])
def test_a_stream_dropped_mid_reply_loses_nothing(
    stack: tuple[Server, Gateway], cut_after: int
) -> None:
    """The seed's client has no resume: on a dropped stream it falls back to the whole-reply
    endpoint (seed 003, "Connection Error: Fallback to non-streaming endpoint"). The dropped
    reply goes on and is stored whole; the fallback's answer is whole too."""
    server, gateway = stack
    session = f"dropped-{cut_after}"
    prompt = " ".join(f"part{i}" for i in range(15))
    with (
        client(gateway.url, server.token) as http,
        http.stream("POST", GATEWAY, json=request(session_id=session, prompt=prompt)) as sse,
    ):
        seen = 0
        for line in sse.iter_lines():
            seen += line.startswith('data: {"type":"content"')
            if seen >= cut_after:
                break  # the network drops
    with client(gateway.url, server.token) as http:
        whole = http.post("/api/ai/chat-image", json=request(session_id=session, prompt=prompt))
    assert whole.status_code == 200
    assert whole.json()["content"] == prompt
    deadline = time.monotonic() + 20
    with server.client() as http:
        while time.monotonic() < deadline:
            sessions = http.get("/api/v1/conversations").json()["items"]
            cid = next(c["id"] for c in sessions if c.get("key") == f"chat_image:{session}")
            items = http.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
            if all(m["status"] == "complete" for m in items):
                break
            time.sleep(0.1)
    assert [(m["role"], m["content"]) for m in items] == [
        ("user", prompt),
        ("assistant", prompt),
    ] * 2
