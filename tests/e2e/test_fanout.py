"""One reply followed by many clients over real connections.

Live events are written to every caught-up follower by the task that appends them
(``log/delivery.py``); a follower whose connection is full is left to its own task until it
has caught up. Here some followers stop reading for the whole reply, with a tiny receive
buffer, while megabytes go by: the reply must end on time for the others, and each stalled
follower, once it reads, must still get the stored text byte for byte.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect
from websockets.uri import parse_uri

from tests.helpers.chat import eventually
from tests.helpers.server import Server, text_of
from tests.providers.served import ServerFactory, conversation, openai_server
from tests.providers.upstream import Reply, UpstreamThread
from tokenwire.protocol.sse import SSEDecoder

# 4 MiB of text: far more than a stalled client's socket buffers and the server's write
# buffer hold, so its connection is full long before the reply ends.
DELTAS = [f"{i:05d}" + "x" * 4090 + "\n" for i in range(1024)]
READERS = 6
STALLED = 3


@pytest.fixture
def upstream() -> Iterator[UpstreamThread]:
    thread = UpstreamThread(Reply(deltas=DELTAS, delay=0.002))
    with thread:
        yield thread


def subscribe_socket(server: Server, *, receive_buffer: int | None = None) -> socket.socket:
    """A raw socket connected to the server; a tiny ``receive_buffer`` is set before the
    connection, where it bounds the window the server may fill."""
    address = urlsplit(server.url)
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(120)
    sock.connect((address.hostname, address.port))
    return sock


def subscribe(server: Server, mid: str, *, receive_buffer: int | None = None) -> socket.socket:
    """An SSE follower of ``mid`` on a raw socket (HTTP/1.0: the body ends with the
    connection), its request sent."""
    sock = subscribe_socket(server, receive_buffer=receive_buffer)
    sock.sendall(
        f"GET /api/v1/messages/{mid}/events HTTP/1.0\r\n"
        f"Authorization: Bearer {server.token}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    return sock


def read_all(sock: socket.socket) -> list[dict[str, Any]]:
    """Everything up to the end of the connection, as canonical events."""
    received = bytearray()
    while chunk := sock.recv(1 << 16):
        received += chunk
    sock.close()
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return [msgspec.json.decode(e.data) for e in SSEDecoder().feed(body)]


def start(server: Server) -> tuple[str, str]:
    """A conversation and its reply, started and not waited for."""
    with server.client() as client:
        cid = conversation(client)
        sent = client.post(
            f"/api/v1/conversations/{cid}/messages",
            params={"wait": "false"},
            json={"content": "go"},
        )
        assert sent.status_code == 202, sent.text
        return cid, str(sent.json()["assistant_message"]["id"])


def ended(server: Server, mid: str) -> dict[str, Any]:
    """The reply as stored once it ended."""

    def stored() -> dict[str, Any] | None:
        with server.client() as client:
            message: dict[str, Any] = client.get(f"/api/v1/messages/{mid}").json()
        return message if message["status"] != "streaming" else None

    found: dict[str, Any] = eventually(stored, timeout=120)
    return found


def check(stored: dict[str, Any], followers: list[list[dict[str, Any]]]) -> None:
    """Each follower got the stored text whole, from its start to its end, in order."""
    assert stored["status"] == "complete"
    assert stored["content"] == "".join(DELTAS)
    for events in followers:
        assert events[0]["type"] == "message.start"
        assert events[-1]["type"] == "message.end"
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs))
        assert text_of(events) == stored["content"]


def test_followers_that_stop_reading_hold_up_nobody_and_lose_nothing(
    server_factory: ServerFactory, upstream: UpstreamThread
) -> None:
    server = openai_server(server_factory, upstream.upstream)
    _, mid = start(server)
    stalled = [subscribe(server, mid, receive_buffer=4096) for _ in range(STALLED)]
    results: list[list[dict[str, Any]]] = []

    def follow(sock: socket.socket) -> None:
        results.append(read_all(sock))

    readers = [
        threading.Thread(target=follow, args=(subscribe(server, mid),), daemon=True)
        for _ in range(READERS)
    ]
    for reader in readers:
        reader.start()
    stored = ended(server, mid)  # while the stalled followers have not read a byte
    for reader in readers:
        reader.join(120)
    late = [read_all(sock) for sock in stalled]
    assert len(results) == READERS
    check(stored, results + late)


def resume(sockets: ExitStack, server: Server, cid: str, mid: str) -> ClientConnection:
    """A canonical socket on ``cid`` following ``mid`` from its start."""
    ws = sockets.enter_context(
        connect(f"{server.ws_url}/api/v1/conversations/{cid}/ws?token={server.token}")
    )
    ws.send(json.dumps({"type": "stream.resume", "message_id": mid, "after": -1}))
    return ws


class StalledSocket:
    """A canonical socket on a raw socket with a tiny receive buffer, following ``mid`` from
    its start and then reading nothing until ``events`` is called: the server's writes to it
    back up. (A client library's socket keeps reading in the background.)"""

    def __init__(self, server: Server, cid: str, mid: str) -> None:
        self.protocol = ClientProtocol(
            parse_uri(f"{server.ws_url}/api/v1/conversations/{cid}/ws?token={server.token}"),
            max_size=None,
        )
        self.sock = subscribe_socket(server, receive_buffer=4096)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while self.protocol.state is State.CONNECTING:
            self.protocol.receive_data(self.sock.recv(1 << 16))
        assert self.protocol.handshake_exc is None, self.protocol.handshake_exc
        resume = {"type": "stream.resume", "message_id": mid, "after": -1}
        self.protocol.send_text(json.dumps(resume).encode())
        self._flush()

    def _flush(self) -> None:
        self.sock.sendall(b"".join(self.protocol.data_to_send()))

    def events(self) -> list[dict[str, Any]]:
        """The reply's events, read now, up to its end."""
        events: list[dict[str, Any]] = []
        with self.sock:
            while not events or events[-1]["type"] not in ("message.end", "message.error"):
                for frame in self.protocol.events_received():  # the handshake's answer first
                    if isinstance(frame, Frame) and frame.opcode is Opcode.TEXT:
                        event = json.loads(frame.data)
                        if event["type"].startswith("message."):
                            events.append(event)
                if events and events[-1]["type"] in ("message.end", "message.error"):
                    break
                data = self.sock.recv(1 << 16)
                assert data, "the server closed the socket"
                self.protocol.receive_data(data)
        return events


def reply_frames(ws: ClientConnection) -> list[dict[str, Any]]:
    """The reply's events, up to its end."""
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] not in ("message.end", "message.error"):
        event = json.loads(ws.recv(120))
        if event["type"].startswith("message."):
            events.append(event)
    return events


def test_sockets_that_stop_reading_hold_up_nobody_and_lose_nothing(
    server_factory: ServerFactory, upstream: UpstreamThread
) -> None:
    server = openai_server(server_factory, upstream.upstream)
    cid, mid = start(server)
    results: list[list[dict[str, Any]]] = []

    def follow(ws: ClientConnection) -> None:
        results.append(reply_frames(ws))

    with ExitStack() as sockets:
        stalled = [StalledSocket(server, cid, mid) for _ in range(STALLED)]
        readers = [
            threading.Thread(target=follow, args=(resume(sockets, server, cid, mid),), daemon=True)
            for _ in range(READERS)
        ]
        for reader in readers:
            reader.start()
        stored = ended(server, mid)  # while the stalled sockets have read nothing since
        for reader in readers:
            reader.join(120)
        late = [ws.events() for ws in stalled]
    assert len(results) == READERS
    check(stored, results + late)
