"""A send that is refused writes nothing, on every dialect.

One user's long reply holds both that user's one stream (``MAX_STREAMS_PER_USER=1``) and the
model's one slot with no room to wait (``SCRIPTED_SLOTS=1``, ``QUEUE_MAX=0``), so the refusals
are forced, not raced: that user's next send is 429, another user's is 503, and a third
user's oversize image is 413. Each dialect's refusal must leave the user's conversations and
messages exactly as they were: no conversation made for nothing, no history imported, no
turn stored.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import openai
import pytest
from websockets.sync.client import connect

from tests.helpers.server import Server

ServerFactory = Callable[..., Server]

LONG = " ".join(f"w{i}" for i in range(2000))  # 2,000 chunks of 200 ms: runs until cancelled
BIG_IMAGE = (
    "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 4096).decode()
)
HISTORY = [
    {"role": "user", "content": "What is two and two?"},
    {"role": "assistant", "content": "Four."},
]

Inventory = dict[str, tuple[str | None, int]]


def inventory(server: Server, token: str) -> Inventory:
    """Every conversation of the user: its kind and how many messages it holds."""
    with server.client(token) as client:
        found: Inventory = {}
        for c in client.get("/api/v1/conversations", params={"limit": 200}).json()["items"]:
            items = client.get(f"/api/v1/conversations/{c['id']}/messages").json()["items"]
            found[c["id"]] = (c["kind"], len(items))
        return found


def ws_refusal(url: str, frame: dict[str, Any], opened: int = 0) -> dict[str, Any]:
    """Send ``frame`` on a socket and return the first frame that answers it."""
    with connect(url) as ws:
        for _ in range(opened):
            ws.recv(timeout=30)
        ws.send(msgspec.json.encode(frame).decode())
        return dict(msgspec.json.decode(ws.recv(timeout=30)))


def http_status(response: httpx.Response) -> int:
    return response.status_code


# One function per dialect: make the send a refusal is expected for, return what identifies
# the refusal (an HTTP status, or the error code of a socket's error frame).


def canonical_rest(server: Server, token: str, image: bool) -> object:
    with server.client(token) as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        body: dict[str, Any] = {"content": "hello"}
        if image:
            body["images"] = [BIG_IMAGE]
        return http_status(client.post(f"/api/v1/conversations/{cid}/messages", json=body))


def canonical_ws(server: Server, token: str, image: bool) -> object:
    with server.client(token) as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
    frame: dict[str, Any] = {"type": "message.send", "content": "hello"}
    if image:
        frame["images"] = [BIG_IMAGE]
    url = f"{server.ws_url}/api/v1/conversations/{cid}/ws?token={token}"
    reply = ws_refusal(url, frame)
    assert reply["type"] == "error", reply
    return reply["error"]["code"]


def consultation_id(made: dict[str, Any]) -> str:
    """The id in a 201 or a 409 of ``POST /api/v1/consultations`` (the seed app's shape)."""
    if "data" in made:
        return str(made["data"]["consultation"]["id"])
    return str(made["error"]["details"]["existing_consultation_id"])


def consultation_rest(server: Server, token: str, image: bool) -> object:
    with server.client(token) as client:
        made = client.post("/api/v1/consultations", json={"persona": "general"}).json()
        cid = consultation_id(made)
        return http_status(
            client.post(f"/api/v1/consultations/{cid}/messages", json={"content": "hello"})
        )


def consultation_ws(server: Server, token: str, image: bool) -> object:
    with server.client(token) as client:
        made = client.post("/api/v1/consultations", json={"persona": "general"}).json()
        cid = consultation_id(made)
    url = f"{server.ws_url}/api/v1/consultations/{cid}/ws?token={token}"
    reply = ws_refusal(url, {"type": "message", "content": "hello"}, opened=1)
    assert reply["type"] == "error", reply
    return reply["code"]


def message_stream_ws(server: Server, token: str, image: bool) -> object:
    url = f"{server.ws_url}/ws/chat/{uuid.uuid4()}?token={token}"
    reply = ws_refusal(url, {"type": "message", "content": "hello"})
    assert reply["sender"] == "system", reply
    return reply["metadata"]["error"]


def session_sse(server: Server, token: str, image: bool) -> object:
    with server.client(token) as client:
        url = f"/sessions/{uuid.uuid4()}/messages/stream"
        return http_status(client.post(url, json={"content": "hello", "role": "user"}))


def chat_image(server: Server, token: str, image: bool) -> object:
    body = {
        "prompt": "what is this?",
        "session_id": str(uuid.uuid4()),
        "base64_image": BIG_IMAGE.split(",", 1)[1] if image else None,
    }
    with server.client(token) as client:
        return http_status(client.post("/api/v1/chat-image-stream", json=body))


def openai_chat(server: Server, token: str, image: bool) -> object:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=token, max_retries=0)
    content: Any = "hello"
    if image:
        content = [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": BIG_IMAGE}},
        ]
    try:
        client.chat.completions.create(
            model="scripted", messages=[*HISTORY, {"role": "user", "content": content}]
        )
    except openai.APIStatusError as exc:
        return exc.status_code
    return 200


def vercel(server: Server, token: str, image: bool) -> object:
    parts: list[dict[str, Any]] = [{"type": "text", "text": "hello"}]
    if image:
        parts.append({"type": "file", "mediaType": "image/png", "url": BIG_IMAGE})
    body = {
        "id": str(uuid.uuid4()),
        "messages": [
            {"id": "u0", "role": "user", "parts": [{"type": "text", "text": "earlier"}]},
            {"id": "a0", "role": "assistant", "parts": [{"type": "text", "text": "reply"}]},
            {"id": "u1", "role": "user", "parts": parts},
        ],
    }
    with server.client(token) as client:
        return http_status(client.post("/api/chat", json=body))


DIALECTS = {
    "canonical_rest": canonical_rest,
    "canonical_ws": canonical_ws,
    "consultation_rest": consultation_rest,
    "consultation_ws": consultation_ws,
    "message_stream_ws": message_stream_ws,
    "session_sse": session_sse,
    "chat_image": chat_image,
    "openai_chat": openai_chat,
    "vercel": vercel,
}
TAKES_IMAGES = {"canonical_rest", "canonical_ws", "chat_image", "openai_chat", "vercel"}
# What each kind of refusal looks like: an HTTP status, or a socket's error code.
REFUSED = {
    "limit": {429, "too_many_streams"},
    "queue": {503, "queue_full"},
    "image": {413, "image_too_large"},
}


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server whose model is busy with user A's reply until the module ends."""
    from tests.helpers.server import start_server

    server = start_server(
        tmp_path_factory.mktemp("busy"),
        {
            "TOKENWIRE_SCRIPTED_TEXT": LONG,
            "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "1",
            "TOKENWIRE_SCRIPTED_DELAY_MS": "200",
            "TOKENWIRE_SCRIPTED_SLOTS": "1",
            "TOKENWIRE_QUEUE_MAX": "0",
            "TOKENWIRE_MAX_STREAMS_PER_USER": "1",
            "TOKENWIRE_MAX_IMAGE_BYTES": "1024",
        },
    )
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        sent = client.post(
            f"/api/v1/conversations/{cid}/messages",
            params={"wait": "false"},
            json={"content": "go"},
        )
        assert sent.status_code == 202, sent.text
        reply_id = sent.json()["assistant_message"]["id"]
        deadline = time.monotonic() + 60
        while not client.get(f"/api/v1/messages/{reply_id}").json()["content"]:
            assert time.monotonic() < deadline, "the long reply never started"
            time.sleep(0.1)
    # A (the server's own user) holds the running reply; the others send beside it.
    tokens = {
        "limit": server.token,
        "queue": server.create_user("queue"),
        "image": server.create_user("image"),
        "retry": server.create_user("retry"),
    }
    yield server, reply_id, tokens
    server.stop()


CASES = [
    (refusal, dialect)
    for refusal in sorted(REFUSED)
    for dialect in sorted(DIALECTS)
    if refusal != "image" or dialect in TAKES_IMAGES
]


@pytest.mark.parametrize(("refusal", "dialect"), CASES)
def test_a_refused_send_leaves_nothing_behind(busy: Any, refusal: str, dialect: str) -> None:
    server, _, tokens = busy
    token = tokens[refusal]
    before = inventory(server, token)
    answer = DIALECTS[dialect](server, token, refusal == "image")
    assert answer in REFUSED[refusal], f"{dialect}: {answer!r}"
    after = inventory(server, token)
    # Conversations the test itself made to send into (and a socket's session) are empty.
    made = {cid: entry for cid, entry in after.items() if cid not in before}
    assert all(count == 0 for _kind, count in made.values()), made
    assert {cid: after[cid] for cid in before} == before


def test_a_retried_openai_request_makes_one_conversation(busy: Any) -> None:
    server, reply_id, tokens = busy
    token = tokens["retry"]
    assert openai_chat(server, token, False) == 503
    assert inventory(server, token) == {}
    with server.client() as client:  # the model is free again
        client.post(f"/api/v1/messages/{reply_id}/cancel").raise_for_status()
    sdk = openai.OpenAI(base_url=f"{server.url}/v1", api_key=token, max_retries=0)
    messages: Any = [*HISTORY, {"role": "user", "content": "hello"}]
    answer = sdk.chat.completions.create(model="scripted", messages=messages, max_tokens=3)
    assert answer.choices[0].message.content == "w0 w1 w2"
    assert answer.choices[0].finish_reason == "length"
    conversations = inventory(server, token)
    assert list(conversations.values()) == [("openai", 4)]  # the resent turn and the new one
