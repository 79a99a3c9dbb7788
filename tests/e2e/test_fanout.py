"""One reply followed by many clients over real connections.

Live events are written to every caught-up follower by the task that appends them
(``log/delivery.py``); a follower whose connection is full is left to its own task until it
has caught up. Here some followers stop reading for the whole reply, with a tiny receive
buffer, while megabytes go by: the reply must end on time for the others, and each stalled
follower, once it reads, must still get the stored text byte for byte.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest

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


def subscribe(server: Server, mid: str, *, receive_buffer: int | None = None) -> socket.socket:
    """An SSE follower of ``mid`` on a raw socket (HTTP/1.0: the body ends with the
    connection), its request sent."""
    address = urlsplit(server.url)
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(120)
    sock.connect((address.hostname, address.port))
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


def test_followers_that_stop_reading_hold_up_nobody_and_lose_nothing(
    server_factory: ServerFactory, upstream: UpstreamThread
) -> None:
    server = openai_server(server_factory, upstream.upstream)
    with server.client() as client:
        cid = conversation(client)
        sent = client.post(
            f"/api/v1/conversations/{cid}/messages",
            params={"wait": "false"},
            json={"content": "go"},
        )
        assert sent.status_code == 202, sent.text
        mid = sent.json()["assistant_message"]["id"]

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

        def ended() -> dict[str, Any] | None:
            message: dict[str, Any] = client.get(f"/api/v1/messages/{mid}").json()
            return message if message["status"] != "streaming" else None

        # The reply ends while the stalled followers still have not read a byte.
        stored = eventually(ended, timeout=120)
        for reader in readers:
            reader.join(120)
        late = [read_all(sock) for sock in stalled]

    assert stored["status"] == "complete"
    assert stored["content"] == "".join(DELTAS)
    assert len(results) == READERS
    for events in results + late:
        assert events[0]["type"] == "message.start"
        assert events[-1]["type"] == "message.end"
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs))
        assert text_of(events) == stored["content"]
