"""A stamped OpenAI-compatible upstream for benchmarks: ``POST /v1/chat/completions``.

Every reply streams at a fixed pace (``--tps`` chunks per second) as chunked
``text/event-stream``, shaped like OpenAI's: one content chunk per token, a chunk with the
finish reason, a usage chunk, then ``data: [DONE]``. The reply has as many tokens as the
last message's content says (``"100"``), else ``--tokens``.

Each token is ``" <index>@<stamp>"``, the stamp being ``CLOCK_MONOTONIC`` in microseconds at
the moment the chunk was written to the socket. The clock is the same for every process of
the machine, so a reader anywhere computes each token's lag as its arrival minus its stamp,
and checks the text is whole and in order from the indexes.

One timer drives every reply: all replies have the same interval, so the queue of due
chunks stays sorted by appending at its end, and the server costs one wake-up per due group
rather than one task per reply.

    python benchmarks/upstream.py --port 9000 --tps 20
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import subprocess
import sys
import time
from pathlib import Path

HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
CHUNK = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,'
    b'"model":"bench","choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}]}\n\n'
)
FINISH = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,'
    b'"model":"bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
)
USAGE = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,'
    b'"model":"bench","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":%d,'
    b'"total_tokens":%d}}\n\n'
)
DONE = b"data: [DONE]\n\n"


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def now_us() -> int:
    return time.monotonic_ns() // 1000


class Reply:
    __slots__ = ("conn", "sent", "total")

    def __init__(self, conn: Connection, total: int) -> None:
        self.conn = conn
        self.total = total
        self.sent = 0


class Pacer:
    """Writes the due chunk of every reply; one timer for all of them."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.due: collections.deque[tuple[float, Reply]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.loop = asyncio.get_running_loop()

    def add(self, reply: Reply) -> None:
        # The first token goes now; the next one interval later, which is no earlier than any
        # other reply's next chunk: the queue stays sorted.
        if self.write(reply):
            self.due.append((self.loop.time() + self.interval, reply))
            self.arm()

    def arm(self) -> None:
        if self.timer is None and self.due:
            self.timer = self.loop.call_at(self.due[0][0], self.tick)

    def tick(self) -> None:
        self.timer = None
        now = self.loop.time()
        while self.due and self.due[0][0] <= now:
            at, reply = self.due.popleft()
            if reply.conn.closed:
                continue
            if self.write(reply):
                self.due.append((at + self.interval, reply))
        self.arm()

    def write(self, reply: Reply) -> bool:
        """Write the reply's next token; the end after the last. True while it goes on."""
        transport = reply.conn.transport
        if reply.sent < reply.total:
            token = b" %d@%d" % (reply.sent, now_us())
            transport.write(chunked(CHUNK % token))
            reply.sent += 1
            return True
        n = reply.total
        tail = FINISH + USAGE % (n, n + 1) + DONE
        transport.write(chunked(tail) + b"0\r\n\r\n")
        reply.conn.busy = False
        reply.conn.pump()  # a pipelined request may be waiting
        return False


class Connection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive: one request at a time, the body by ``content-length``."""

    def __init__(self, pacer: Pacer, default_tokens: int) -> None:
        self.pacer = pacer
        self.default_tokens = default_tokens
        self.buffer = b""
        self.busy = False
        self.closed = False
        self.transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.pump()

    def pump(self) -> None:
        if self.busy or self.closed:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        if not head.startswith("POST ") or "/chat/completions" not in head.split(" ", 2)[1]:
            self.transport.write(NOT_FOUND)
            return
        self.busy = True
        self.transport.write(HEAD)
        self.pacer.add(Reply(self, self.tokens(body)))

    def tokens(self, body: bytes) -> int:
        try:
            messages = json.loads(body)["messages"]
            content = [m for m in messages if m["role"] == "user"][-1]["content"]
            return int(str(content).strip())
        except (ValueError, KeyError, IndexError, TypeError):
            return self.default_tokens


async def serve(host: str, port: int, tps: float, tokens: int) -> None:
    pacer = Pacer(1.0 / tps)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(pacer, tokens), host, port, backlog=4096, reuse_address=True
    )
    print(f"upstream ready on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def spawn(port: int, tps: float, cpus: list[str]) -> subprocess.Popen[bytes]:
    """This upstream in a process of its own (under ``cpus``, a ``taskset`` prefix or
    nothing), returned once it listens."""
    process = subprocess.Popen(
        [*cpus, sys.executable, str(Path(__file__)), "--port", str(port), "--tps", str(tps)],
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.readline()  # "upstream ready"
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tps", type=float, default=20.0, help="tokens per second per reply")
    parser.add_argument("--tokens", type=int, default=100, help="when the prompt names none")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.host, args.port, args.tps, args.tokens))


if __name__ == "__main__":
    main()
