"""Seed 003's image chat against a real server, replayed as its test script and with
``httpx-sse``."""

from __future__ import annotations

import json
from typing import Any

import httpx
from httpx_sse import connect_sse

from tests.helpers.server import Server

# The request of seed 003's curl example.
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUl"
    "EQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
REQUEST = {
    "base64_image": PIXEL,
    "prompt": "What is in this image?",
    "subject": "general",
    "session_id": "test_session",
    "student_id": "test_student",
}


def test_the_seed_test_script_exchange(server: Server) -> None:
    # Seed 003, "Test with Python Script": read ``data: `` lines, act on each type.
    accumulated = ""
    seen: list[dict[str, Any]] = []
    with (
        server.client() as client,
        client.stream("POST", "/api/v1/chat-image-stream", json=REQUEST) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = json.loads(line[6:])
                seen.append(data)
                if data["type"] == "content":
                    accumulated += data["delta"]
                    assert data["content"] == accumulated  # content is the text so far

    start, *contents, end = seen
    assert list(start) == ["type", "timestamp", "model"]
    assert start["model"] == "scripted"
    assert len(contents) > 1
    assert all(list(c) == ["type", "content", "delta"] for c in contents)
    assert list(end) == ["type", "tokens", "finish_reason", "processing_time_ms", "content"]
    assert end["finish_reason"] == "stop"
    assert end["tokens"] > 0
    assert isinstance(end["processing_time_ms"], int)
    assert end["content"] == accumulated == "What is in this image?"

    # The image went into the stored user message, in the session's conversation.
    with server.client() as client:
        page = client.get("/api/v1/conversations").json()["items"]
        session = next(c for c in page if c["key"] == "chat_image:test_session")
        assert session["metadata"]["subject"] == "general"
        history = client.get(f"/api/v1/conversations/{session['id']}/messages").json()["items"]
    assert history[0]["images"] == [f"data:image/png;base64,{PIXEL}"]


def test_with_httpx_sse_and_the_session_continues(server: Server) -> None:
    body = {**REQUEST, "prompt": "And now?", "session_id": "sse_session"}
    for _ in range(2):
        with (
            server.client() as client,
            connect_sse(client, "POST", "/api/v1/chat-image-stream", json=body) as source,
        ):
            events = [json.loads(e.data) for e in source.iter_sse()]
        assert events[0]["type"] == "start"
        assert events[-1]["type"] == "end"
    with server.client() as client:
        page = client.get("/api/v1/conversations").json()["items"]
        session = next(c for c in page if c["key"] == "chat_image:sse_session")
        history = client.get(f"/api/v1/conversations/{session['id']}/messages").json()["items"]
    assert len(history) == 4


def test_the_non_streaming_endpoint(server: Server) -> None:
    with server.client() as client:
        response = client.post("/api/v1/chat-image", json=REQUEST)
    assert response.status_code == 200
    result = response.json()
    assert result["content"] == "What is in this image?"
    assert result["finish_reason"] == "stop"
    assert result["session_id"] == "test_session"
    assert result["model"] == "scripted"


def test_errors_come_in_the_seed_shape(server: Server) -> None:
    with server.client() as client:
        bad_image = client.post("/api/v1/chat-image-stream", json={**REQUEST, "base64_image": "!!"})
        assert bad_image.status_code == 422  # as any image that is not base64 (protocol/images)
        assert (
            bad_image.text == 'data: {"type":"error","error":"base64_image: not valid base64"}\n\n'
        )
        no_prompt = client.post("/api/v1/chat-image", json={"base64_image": PIXEL})
        assert no_prompt.status_code == 400
        assert no_prompt.json()["type"] == "error"
    anonymous = httpx.post(f"{server.url}/api/v1/chat-image", json=REQUEST)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"type": "error", "error": "missing bearer token"}
