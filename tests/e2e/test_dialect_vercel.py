"""The AI SDK UI message stream against a real server: the body ``useChat``'s default
transport posts, the chunks its strict schema accepts, and resuming a running stream."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
from httpx_sse import connect_sse

from tests.conftest import ServerFactory
from tests.helpers.server import Server

# The keys each chunk type may have: the SDK rejects a chunk with any other.
ALLOWED = {
    "start": {"type", "messageId", "messageMetadata"},
    "text-start": {"type", "id", "providerMetadata"},
    "text-delta": {"type", "id", "delta", "providerMetadata"},
    "text-end": {"type", "id", "providerMetadata"},
    "finish": {"type", "finishReason", "messageMetadata"},
    "abort": {"type", "reason"},
    "tool-input-start": {
        "type",
        "toolCallId",
        "toolName",
        "providerExecuted",
        "providerMetadata",
        "dynamic",
        "title",
    },
    "tool-input-delta": {"type", "toolCallId", "inputTextDelta"},
    "tool-input-available": {
        "type",
        "toolCallId",
        "toolName",
        "input",
        "providerExecuted",
        "providerMetadata",
        "dynamic",
        "title",
    },
    "error": {"type", "errorText"},
}


def transport_body(chat_id: str, text: str, message_id: str = "msg-user-1") -> dict[str, Any]:
    """What ``DefaultChatTransport`` posts for ``sendMessage({text})``."""
    return {
        "id": chat_id,
        "messages": [{"id": message_id, "role": "user", "parts": [{"type": "text", "text": text}]}],
        "trigger": "submit-message",
    }


def read_chunks(client: httpx.Client, method: str, url: str, **kwargs: Any) -> list[Any]:
    with connect_sse(client, method, url, **kwargs) as source:
        response = source.response
        assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
        assert response.headers["content-type"].startswith("text/event-stream")
        return [e.data if e.data == "[DONE]" else json.loads(e.data) for e in source.iter_sse()]


def check_stream(chunks: list[Any], text: str) -> str:
    """The protocol's order and keys; returns the assistant message id."""
    *parts, done = chunks
    assert done == "[DONE]"
    types = [p["type"] for p in parts]
    assert types[0] == "start"
    assert types[1] == "text-start"
    assert set(types[2:-2]) == {"text-delta"}
    assert types[-2:] == ["text-end", "finish"]
    for part in parts:
        assert set(part) <= ALLOWED[part["type"]], part
    text_ids = {p["id"] for p in parts if p["type"].startswith("text-")}
    assert len(text_ids) == 1
    assert "".join(p["delta"] for p in parts if p["type"] == "text-delta") == text
    return str(parts[0]["messageId"])


def test_the_default_transport_exchange(server: Server) -> None:
    with server.client() as client:
        chunks = read_chunks(
            client, "POST", "/api/chat", json=transport_body("chat-a", "Hello from the AI SDK")
        )
        message_id = check_stream(chunks, "Hello from the AI SDK")
        stored = client.get(f"/api/v1/messages/{message_id}").json()
        assert stored["content"] == "Hello from the AI SDK"
        assert stored["status"] == "complete"
        # Nothing is running any more: resume answers 204, as the SDK expects.
        assert client.get("/api/chat/chat-a/stream").status_code == 204
        assert client.get("/api/chat/never-seen/stream").status_code == 204


def test_a_resubmitted_message_does_not_start_a_second_reply(server: Server) -> None:
    body = transport_body("chat-b", "Only once please", message_id="msg-b")
    with server.client() as client:
        first = check_stream(
            read_chunks(client, "POST", "/api/chat", json=body), "Only once please"
        )
        again = check_stream(
            read_chunks(client, "POST", "/api/chat", json=body), "Only once please"
        )
        assert first == again
        conversation = client.get(f"/api/v1/messages/{first}").json()["conversation_id"]
        history = client.get(f"/api/v1/conversations/{conversation}/messages").json()["items"]
    assert len(history) == 2


def test_history_of_a_chat_new_to_the_server_is_stored(server: Server) -> None:
    body = transport_body("chat-c", "Third message", message_id="u3")
    body["messages"][:0] = [
        {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "First"}]},
        {"id": "a1", "role": "assistant", "parts": [{"type": "text", "text": "Second"}]},
    ]
    with server.client() as client:
        message_id = check_stream(
            read_chunks(client, "POST", "/api/chat", json=body), "Third message"
        )
        conversation = client.get(f"/api/v1/messages/{message_id}").json()["conversation_id"]
        history = client.get(f"/api/v1/conversations/{conversation}/messages").json()["items"]
    assert [m["content"] for m in history] == ["First", "Second", "Third message", "Third message"]


def test_resume_follows_the_running_reply_from_its_start(server_factory: ServerFactory) -> None:
    server = server_factory(scripted_delay_ms=80, scripted_chunk_words=2)
    text = " ".join(f"word{i}" for i in range(24))
    first_part = threading.Event()

    def send_and_drop() -> None:
        # The page reloads mid-reply: the POST is dropped after the first text.
        with (
            server.client() as client,
            connect_sse(client, "POST", "/api/chat", json=transport_body("chat-r", text)) as source,
        ):
            for event in source.iter_sse():
                if json.loads(event.data)["type"] == "text-delta":
                    break
        first_part.set()

    sender = threading.Thread(target=send_and_drop)
    sender.start()
    assert first_part.wait(10)
    sender.join()
    with server.client() as client:
        chunks = read_chunks(client, "GET", "/api/chat/chat-r/stream")
        check_stream(chunks, text)
        deadline = time.monotonic() + 30  # the ended stream is forgotten in the server's time
        while client.get("/api/chat/chat-r/stream").status_code != 204:
            assert time.monotonic() < deadline, "the ended stream is still offered"
            time.sleep(0.05)


def test_bad_requests_get_an_error_chunk(server: Server) -> None:
    with server.client() as client:
        bad = client.post("/api/chat", json={"id": "x", "messages": []})
        assert bad.status_code == 400
        assert set(bad.json()) == {"type", "errorText"}
        assert bad.json()["type"] == "error"
        empty = client.post("/api/chat", json=transport_body("x", "  "))
        assert empty.json()["errorText"] == "content must not be empty"
    anonymous = httpx.post(f"{server.url}/api/chat", json=transport_body("x", "hi"))
    assert anonymous.status_code == 401
    assert anonymous.json() == {"type": "error", "errorText": "missing bearer token"}
