"""``tokenwire gateway``: seed 003's proxy, as a real process, in front of a real engine and
in front of a scripted stand-in that can fail in the ways the gateway must survive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from tests.helpers.server import Server, free_port

PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUl"
    "EQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
REQUEST = {
    "base64_image": PIXEL,
    "prompt": "Describe this image",
    "subject": "general",
    "session_id": "test_session",
    "student_id": "test_student",
}
RESULT = {
    "content": "A single pixel.",
    "model": "stand-in",
    "tokens": 3,
    "finish_reason": "stop",
    "processing_time_ms": 7,
    "session_id": "test_session",
    "message_id": "m1",
}


@dataclass
class Gateway:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def start_gateway(upstream: str, tmp_path: Path) -> Gateway:
    port = free_port()
    log_path = tmp_path / f"gateway-{port}.log"
    env = {**os.environ, "TOKENWIRE_DATA_DIR": str(tmp_path)}
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tokenwire",
                "gateway",
                "--upstream",
                upstream,
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    gateway = Gateway(f"http://127.0.0.1:{port}", proc, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{gateway.url}/healthz", timeout=1).status_code == 200:
                return gateway
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"gateway did not come up:\n{log_path.read_text()}")


def stop(gateway: Gateway) -> None:
    gateway.proc.send_signal(signal.SIGTERM)
    try:
        gateway.proc.wait(10)
    except subprocess.TimeoutExpired:
        gateway.proc.kill()
        gateway.proc.wait()


@dataclass
class StandIn:
    """An engine stand-in whose stream behaves as ``mode`` says."""

    mode: str = "ok"
    paths: list[str] = field(default_factory=list)
    client_gone: threading.Event = field(default_factory=threading.Event)
    sent_second: float = 0.0


def stand_in_server(state: StandIn) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            state.paths.append(self.path)
            if self.path == "/api/v1/chat-image":
                self._send(200, "application/json", json.dumps(RESULT).encode())
            elif state.mode == "500":
                self._send(500, "application/json", b'{"type":"error","error":"boom"}')
            elif state.mode == "error-first":
                self._send(200, "text/event-stream", b'data: {"type":"error","error":"no"}\n\n')
            elif state.mode == "empty":
                self._send(200, "text/event-stream", b": just a comment\n\n")
            else:
                self._stream()

        def _send(self, status: int, media: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", media)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            try:
                self.wfile.write(b'data: {"type":"start","timestamp":"t","model":"stand-in"}\n\n')
                self.wfile.flush()
                time.sleep(0.8)
                state.sent_second = time.monotonic()
                for i in range(200):
                    self.wfile.write(b'data: {"type":"content","content":"x","delta":"%d"}\n\n' % i)
                    self.wfile.flush()
                    time.sleep(0.05)
                self.wfile.write(
                    b'data: {"type":"end","tokens":1,"finish_reason":"stop",'
                    b'"processing_time_ms":1,"content":"x"}\n\n'
                )
            except (BrokenPipeError, ConnectionResetError):
                state.client_gone.set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[tuple[StandIn, Gateway]]:
    state = StandIn()
    upstream = stand_in_server(state)
    gateway = start_gateway(f"http://127.0.0.1:{upstream.server_address[1]}", tmp_path)
    yield state, gateway
    stop(gateway)
    upstream.shutdown()
    upstream.server_close()


@pytest.fixture
def engine_gateway(server: Server, tmp_path: Path) -> Iterator[Gateway]:
    gateway = start_gateway(server.url, tmp_path)
    yield gateway
    stop(gateway)


def test_the_seed_gateway_exchange_through_a_real_engine(
    server: Server, engine_gateway: Gateway
) -> None:
    with (
        engine_gateway.client(server.token) as client,
        connect_sse(client, "POST", "/api/ai/chat-image-stream", json=REQUEST) as source,
    ):
        events = [json.loads(e.data) for e in source.iter_sse()]
    types = [e["type"] for e in events]
    assert types[0] == "start"
    assert set(types[1:-1]) == {"content"}
    assert types[-1] == "end"
    assert events[-1]["content"] == "Describe this image"
    with engine_gateway.client(server.token) as client:
        whole = client.post("/api/ai/chat-image", json=REQUEST)
    assert whole.status_code == 200
    assert whole.json()["content"] == "Describe this image"


def test_the_engine_authenticates_through_the_gateway(
    server: Server, engine_gateway: Gateway
) -> None:
    with engine_gateway.client() as client:
        response = client.post("/api/ai/chat-image-stream", json=REQUEST)
    assert response.status_code == 401
    assert "error" in response.text


def test_payloads_over_3_mb_are_refused(stand_in: tuple[StandIn, Gateway]) -> None:
    state, gateway = stand_in
    big = {**REQUEST, "base64_image": PIXEL + "A" * (3 * 1024 * 1024)}
    with gateway.client("t") as client:
        response = client.post("/api/ai/chat-image-stream", json=big)
        assert response.status_code == 413
        # An SSE error event on the streaming route: the seed's client reads data: lines.
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.text.startswith('data: {"type":"error","error":"payload exceeds')
        whole = client.post("/api/ai/chat-image", json=big)
        assert whole.status_code == 413
        assert whole.json()["type"] == "error"
        malformed = client.post("/api/ai/chat-image-stream", content=b"{oops")
        assert malformed.status_code == 400
    assert state.paths == []  # nothing reached the engine


@pytest.mark.parametrize("mode", ["500", "error-first", "empty"])
def test_falls_back_when_the_stream_fails_before_its_first_event(
    stand_in: tuple[StandIn, Gateway], mode: str
) -> None:
    state, gateway = stand_in
    state.mode = mode
    with (
        gateway.client("t") as client,
        connect_sse(client, "POST", "/api/ai/chat-image-stream", json=REQUEST) as source,
    ):
        events = [json.loads(e.data) for e in source.iter_sse()]
    assert [e["type"] for e in events] == ["start", "content", "end"]
    assert events[0]["model"] == "stand-in"
    assert events[1] == {
        "type": "content",
        "content": "A single pixel.",
        "delta": "A single pixel.",
    }
    assert events[2]["content"] == "A single pixel."
    assert state.paths == ["/api/v1/chat-image-stream", "/api/v1/chat-image"]


def test_events_are_forwarded_unbuffered_and_a_disconnect_closes_upstream(
    stand_in: tuple[StandIn, Gateway],
) -> None:
    state, gateway = stand_in
    with (
        gateway.client("t") as client,
        client.stream("POST", "/api/ai/chat-image-stream", json=REQUEST) as response,
    ):
        lines = response.iter_lines()
        first = next(lines)
        got_first = time.monotonic()
        assert first.startswith('data: {"type":"start"')
        # The first event arrived while the stand-in was still holding back the second.
        assert state.sent_second == 0.0 or got_first < state.sent_second
        for line in lines:
            if line.startswith('data: {"type":"content"'):
                break
    assert state.client_gone.wait(10), "the upstream request was not closed"
