"""The server's own manners: a client that goes away mid-reply is one INFO line in the log,
never a traceback; Ctrl-C stops it within the drain grace, and it says so."""

from __future__ import annotations

import json
import signal
import socket
import time

from websockets.sync.client import connect

from tests.conftest import ServerFactory
from tests.helpers.server import Server

LONG = " ".join(f"w{i}" for i in range(400))


def log_lines(server: Server) -> list[dict[str, object]]:
    lines = []
    for raw in server.log().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def drop_mid_stream(server: Server, path: str, body: dict[str, object] | None) -> None:
    """Open a streaming request by hand, read the first bytes of its answer, and close the
    socket as a closed tab or a killed curl does."""
    payload = json.dumps(body).encode() if body is not None else b""
    method = "POST" if body is not None else "GET"
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.token}\r\nAccept: text/event-stream\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + payload)
        assert b"200 OK" in sock.recv(4096)
        time.sleep(0.3)  # some events are on their way when the client goes


def wait_for_lines(server: Server, count: int, timeout: float = 20) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gone = [line for line in log_lines(server) if line.get("client_gone")]
        if len(gone) >= count:
            return gone
        time.sleep(0.1)
    raise AssertionError(f"expected {count} client_gone lines:\n{server.log()}")


def test_a_client_that_goes_away_is_one_info_line(server_factory: ServerFactory) -> None:
    server = server_factory(scripted_text=LONG, scripted_chunk_words=1, scripted_delay_ms=30)
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        drop_mid_stream(server, f"/api/v1/conversations/{cid}/messages", {"content": "one"})
        sent = client.post(
            f"/api/v1/conversations/{cid}/messages",
            params={"wait": "false"},
            json={"content": "two"},
        ).json()
    reply = sent["assistant_message"]["id"]
    drop_mid_stream(server, f"/api/v1/messages/{reply}/events?after=-1", None)
    # A WebSocket following the reply, whose TCP connection just goes (no close frame).
    with connect(f"{server.ws_url}/api/v1/conversations/{cid}/ws?token={server.token}") as ws:
        ws.send(json.dumps({"type": "stream.resume", "message_id": reply, "after": -1}))
        ws.recv(timeout=10)
        ws.socket.close()
    gone = wait_for_lines(server, 3)
    assert [line["route"] for line in gone] == [
        "/api/v1/conversations/{cid}/messages",
        "/api/v1/messages/{mid}/events",
        "/api/v1/conversations/{cid}/ws",
    ]
    assert all(line["level"] == "info" for line in gone), gone
    assert [line["transport"] for line in gone] == ["sse", "sse", "websocket"]
    # The server is fine and still answering; nothing in its log is a traceback.
    with server.client() as client:
        assert client.get(f"/api/v1/messages/{reply}").status_code == 200
    log = server.log()
    assert "Traceback" not in log, log
    assert not [line for line in log_lines(server) if line["level"] in ("error", "critical")]


def test_ctrl_c_stops_within_the_grace_and_says_so(server_factory: ServerFactory) -> None:
    server = server_factory(
        scripted_text=LONG, scripted_chunk_words=1, scripted_delay_ms=50, shutdown_grace_s=1
    )
    assert (server.data_dir / "serve.json").is_file()
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        sent = client.post(
            f"/api/v1/conversations/{cid}/messages",
            params={"wait": "false"},
            json={"content": "a long one"},
        ).json()
    reply = sent["assistant_message"]["id"]
    time.sleep(0.5)  # the reply is streaming: 400 words take 20 s
    started = time.monotonic()
    server.proc.send_signal(signal.SIGINT)
    server.proc.wait(30)
    took = time.monotonic() - started
    assert took < 1 + 4, f"stopped after {took:.1f}s; the grace is 1s"
    log = server.log()
    assert "tokenwire: stopping; replies still streaming get up to 1s to finish" in log
    assert "\ntokenwire: stopped\n" in log, log[-500:]
    assert "Traceback" not in log
    assert not (server.data_dir / "serve.json").exists()
    # The reply it cut is kept, marked as interrupted, with the text it had.
    again = server_factory(server.data_dir, scripted_text=LONG)
    with again.client() as client:
        stored = client.get(f"/api/v1/messages/{reply}").json()
    assert stored["status"] == "interrupted"
    assert LONG.startswith(stored["content"])
    assert stored["content"]
