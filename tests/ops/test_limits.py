"""Every limit over real sockets: the documented status, headers and error body, and one user
at the limit leaves another user's stream alone.

The server trusts ``X-Forwarded-For`` from 127.0.0.1 (uvicorn's default for proxy headers), so
each test speaks from addresses of its own and the per-address budget of one test is not
spent by another.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.helpers.server import Server, sse_events, start_server, text_of
from tests.ops.scrape import eventually

PER_USER = 20
PER_IP = 12
STREAMS = 2
SOCKETS = 2
BUSY_RETRY = 3
# The scripted model says this whatever it is asked: 100 chunks 20 ms apart, about 2 s.
REPLY = " ".join(f"w{i}" for i in range(300))
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()
_addresses = itertools.count(1)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("limits"),
        {
            "TOKENWIRE_REQUESTS_PER_MINUTE_PER_USER": str(PER_USER),
            "TOKENWIRE_REQUESTS_PER_MINUTE_PER_IP": str(PER_IP),
            "TOKENWIRE_MAX_STREAMS_PER_USER": str(STREAMS),
            "TOKENWIRE_MAX_SOCKETS_PER_USER": str(SOCKETS),
            "TOKENWIRE_BUSY_RETRY_AFTER_S": str(BUSY_RETRY),
            "TOKENWIRE_MAX_IMAGES_PER_MESSAGE": "1",
            "TOKENWIRE_MAX_CONTENT_CHARS": "200",
            "TOKENWIRE_MAX_BODY_BYTES": "4096",
            "TOKENWIRE_SCRIPTED_TEXT": REPLY,
        },
    )
    yield server
    server.stop()


def address() -> str:
    """A client address no other request of this module uses."""
    n = next(_addresses)
    return f"10.0.{n // 250}.{n % 250 + 1}"


def client(server: Server, token: str | None, ip: str | None = None) -> httpx.Client:
    headers = {"X-Forwarded-For": ip or address()}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def socket(server: Server, token: str, cid: str, ip: str | None = None) -> ClientConnection:
    return connect(
        f"{server.ws_url}/api/v1/conversations/{cid}/ws?token={token}",
        additional_headers={"X-Forwarded-For": ip or address()},
    )


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


def test_requests_per_user_get_429_with_retry_after(limited: Server) -> None:
    alice, bob = limited.create_user("rate-alice"), limited.create_user("rate-bob")
    for _ in range(PER_USER):
        # Each from an address of its own: only the per-user budget is spent.
        with client(limited, alice) as c:
            assert c.get("/api/v1/conversations").status_code == 200
    # The window slides: the minute before counts for what is left of it, so hits that
    # straddle a minute's start let one or two more through. A full budget more is refused.
    for _ in range(PER_USER):
        ip = address()
        with client(limited, alice, ip) as c:
            over = c.get("/api/v1/conversations")
        if over.status_code != 200:
            break
    error = refused(over, 429, "rate_limited")
    assert "user" in error["message"]
    assert error["retryable"] is True
    assert 1 <= int(over.headers["retry-after"]) <= 120
    assert over.headers["x-request-id"]
    with client(limited, bob, ip) as c:  # the same address, another user
        assert c.get("/api/v1/conversations").status_code == 200


def test_requests_per_address_get_429_and_probes_are_exempt(limited: Server) -> None:
    ip = address()
    with client(limited, None, ip) as c:
        for _ in range(PER_IP):
            assert c.get("/api/v1/conversations").status_code == 401
        for _ in range(PER_IP):  # the window slides (see above)
            over = c.get("/api/v1/conversations")
            if over.status_code != 401:
                break
        error = refused(over, 429, "rate_limited")
        assert "address" in error["message"]
        assert int(over.headers["retry-after"]) >= 1
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200
    with pytest.raises(InvalidStatus) as handshake, socket(limited, limited.token, "any", ip):
        pass
    assert handshake.value.response.status_code == 429
    assert json.loads(handshake.value.response.body or b"")["error"]["code"] == "rate_limited"
    with client(limited, None) as c:  # another address
        assert c.get("/api/v1/conversations").status_code == 401


def test_concurrent_streams_per_user_get_429_until_one_ends(limited: Server) -> None:
    token = limited.create_user("streams")
    with client(limited, token) as c:
        cid = c.post("/api/v1/conversations", json={}).json()["id"]
        sends = f"/api/v1/conversations/{cid}/messages?wait=false"
        running = [c.post(sends, json={"content": f"go {i}"}) for i in range(STREAMS)]
        assert [r.status_code for r in running] == [202] * STREAMS
        over = c.post(sends, json={"content": "one too many"})
        error = refused(over, 429, "too_many_streams")
        assert error["retryable"] is True
        assert over.headers["retry-after"] == str(BUSY_RETRY)
        # Refused before anything was stored.
        assert len(c.get(f"/api/v1/conversations/{cid}/messages").json()["items"]) == 2 * STREAMS

        # Over a WebSocket the send is answered with an error frame; the socket stays open.
        with socket(limited, token, cid) as ws:
            ws.send(json.dumps({"type": "message.send", "content": "and one more"}))
            frame = next_frame(ws, {"error"})
            assert frame["error"]["code"] == "too_many_streams"
            ws.send(json.dumps({"type": "ping"}))
            assert next_frame(ws, {"pong"})["type"] == "pong"

        first = running[0].json()["assistant_message"]["id"]
        assert c.post(f"/api/v1/messages/{first}/cancel").json()["status"] == "cancelled"
        again = c.post(sends, json={"content": "room again"})
        assert again.status_code == 202
        for reply in (running[1], again):
            c.post(f"/api/v1/messages/{reply.json()['assistant_message']['id']}/cancel")


def next_frame(ws: ClientConnection, types: set[str]) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(ws.recv(10))
        if frame["type"] in types:
            return frame


def test_websockets_per_user_get_429_at_the_handshake(limited: Server) -> None:
    token = limited.create_user("sockets")
    with client(limited, token) as c:
        cid = c.post("/api/v1/conversations", json={}).json()["id"]
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(socket(limited, token, cid))
        second = stack.enter_context(socket(limited, token, cid))
        with pytest.raises(InvalidStatus) as handshake, socket(limited, token, cid):
            pass
        check_refusal(handshake.value)
        second.send(json.dumps({"type": "ping"}))  # the open ones are untouched
        assert next_frame(second, {"pong"})["type"] == "pong"
        first.close()

        def third_opens() -> bool:
            try:
                stack.enter_context(socket(limited, token, cid))
            except InvalidStatus:
                return False  # the server has not seen the close yet
            return True

        eventually(third_opens)


def check_refusal(refusal: InvalidStatus) -> None:
    response = refusal.response
    assert response.status_code == 429
    assert response.headers["retry-after"] == str(BUSY_RETRY)
    body = json.loads(response.body or b"")
    assert body["error"]["code"] == "too_many_connections"
    assert body["error"]["retryable"] is True


def test_body_content_and_images_have_limits(limited: Server) -> None:
    token = limited.create_user("sizes")
    with client(limited, token) as c:
        cid = c.post("/api/v1/conversations", json={}).json()["id"]
        sends = f"/api/v1/conversations/{cid}/messages?wait=false"
        body = c.post(sends, content=b"x" * 5000, headers={"Content-Type": "application/json"})
        refused(body, 413, "payload_too_large")
        refused(c.post(sends, json={"content": "x" * 201}), 413, "content_too_long")
        image = f"data:image/png;base64,{PNG}"
        two = c.post(sends, json={"content": "look", "images": [image, image]})
        assert "limit is 1" in refused(two, 413, "too_many_images")["message"]
        assert c.get(f"/api/v1/conversations/{cid}/messages").json()["items"] == []
        one = c.post(sends, json={"content": "look", "images": [image]})
        assert one.status_code == 202
        c.post(f"/api/v1/messages/{one.json()['assistant_message']['id']}/cancel")


def test_one_user_at_the_limit_does_not_slow_another_users_stream(limited: Server) -> None:
    noisy, quiet = limited.create_user("noisy"), limited.create_user("quiet")
    statuses: list[tuple[int, str]] = []
    stop = threading.Event()
    quiet_streaming = threading.Event()
    during: list[int] = []  # refusals of the noisy user while the quiet one streamed

    with client(limited, noisy) as c:
        cid = c.post("/api/v1/conversations", json={}).json()["id"]
        sends = f"/api/v1/conversations/{cid}/messages?wait=false"
        held = [c.post(sends, json={"content": "hold"}) for _ in range(STREAMS)]
        assert [r.status_code for r in held] == [202] * STREAMS

        def hammer() -> None:
            # The noisy user keeps sending from its own address while at its limit.
            with client(limited, noisy) as h:
                while not stop.is_set():
                    r = h.post(sends, json={"content": "more"})
                    statuses.append((r.status_code, r.json()["error"]["code"]))
                    if quiet_streaming.is_set():
                        during.append(r.status_code)
                    stop.wait(0.01)

        thread = threading.Thread(target=hammer)
        thread.start()
        try:
            with client(limited, quiet) as q:
                qcid = q.post("/api/v1/conversations", json={}).json()["id"]
                with q.stream(
                    "POST",
                    f"/api/v1/conversations/{qcid}/messages",
                    json={"content": "hello"},
                    headers={"Accept": "text/event-stream"},
                ) as response:
                    assert response.status_code == 200
                    events = []
                    for event in sse_events(response):
                        quiet_streaming.set()
                        events.append(event)
                    quiet_streaming.clear()
        finally:
            stop.set()
            thread.join()
        for reply in held:
            c.post(f"/api/v1/messages/{reply.json()['assistant_message']['id']}/cancel")

    # The quiet user got the whole reply, in order (a reader that falls behind may get
    # deltas merged, each carrying the last seq it covers), ended normally.
    assert text_of(events) == REPLY
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
    assert events[-1]["type"] == "message.end"
    assert events[-1]["finish_reason"] == "stop"
    # ... while the noisy one was being turned away, never let through.
    assert during
    assert set(during) == {429}
    assert {code for _, code in statuses} <= {"too_many_streams", "rate_limited"}
