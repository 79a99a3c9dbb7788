"""The load client of the relay benchmark: one reply over one path, on raw sockets.

Paths: ``direct`` (the upstream itself), ``sse`` (tokenwire's canonical SSE send),
``ws`` (the canonical WebSocket) and ``openai`` (tokenwire's OpenAI dialect). Every path
ends in the same record: each token's lag (arrival minus the upstream's stamp), the time to
the first token, whether the text came whole and in order, and why it failed if it did.

Raw sockets and a hand-rolled chunked/SSE/WebSocket reader keep the client cheap: it shares
a core with the upstream, and what it costs is not what is measured.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import time
from dataclasses import dataclass, field

STALL_S = 0.25  # a token this late (5 token intervals at 20 tok/s) is a stall


@dataclass
class Result:
    lags: list[float] = field(default_factory=list)  # seconds, one per token
    arrivals: list[float] = field(default_factory=list)  # time.monotonic(), one per token
    ttft: float | None = None  # seconds from the request to the first token
    failure: str | None = None
    tokens: int = 0
    frames: int = 0
    ended: bool = False  # its terminal event arrived

    def take(self, text: str, started: float) -> str | None:
        """Account for a delta's tokens; a problem with them, if any."""
        now_us = time.monotonic_ns() / 1000
        now = now_us / 1e6
        if self.ttft is None:
            self.ttft = now - started
        self.frames += 1
        for token in text.split():
            index, _, stamp = token.partition("@")
            if int(index) != self.tokens:
                return f"token {index} where {self.tokens} was due"
            self.tokens += 1
            self.lags.append((now_us - int(stamp)) / 1e6)
            self.arrivals.append(now)
        return None

    @property
    def stalls(self) -> int:
        return sum(1 for lag in self.lags if lag > STALL_S)


async def _open(
    host: str, port: int, raw: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
    writer.write(raw)
    return reader, writer


def _post(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: bench", f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _head(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head


async def _chunks(reader: asyncio.StreamReader) -> asyncio.AsyncIterator[bytes]:  # type: ignore[name-defined]
    """The pieces of a chunked body (RFC 9112, 7.1)."""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            return
        data = await reader.readexactly(size + 2)
        yield data[:-2]


async def _events(reader: asyncio.StreamReader) -> asyncio.AsyncIterator[bytes]:  # type: ignore[name-defined]
    """The ``data:`` payloads of a chunked SSE body (one data line per event, as sent here)."""
    buffer = b""
    async for piece in _chunks(reader):
        buffer += piece
        *blocks, buffer = buffer.split(b"\n\n")
        for block in blocks:
            for line in block.split(b"\n"):
                if line.startswith(b"data:"):
                    yield line[5:].lstrip()


async def openai_reply(
    host: str, port: int, path: str, tokens: int, token: str | None, result: Result
) -> None:
    """An OpenAI chat completion, streamed: the upstream directly, or tokenwire's dialect."""
    body = json.dumps(
        {"model": "bench", "messages": [{"role": "user", "content": str(tokens)}], "stream": True}
    ).encode()
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    started = time.monotonic()
    reader, writer = await _open(host, port, _post(path, body, headers))
    try:
        status, _ = await _head(reader)
        if status != 200:
            result.failure = f"HTTP {status}"
            return
        async for data in _events(reader):
            if data == b"[DONE]":
                break
            chunk = json.loads(data)
            if "error" in chunk:
                result.failure = str(chunk["error"])
                return
            for choice in chunk.get("choices", ()):
                text = choice.get("delta", {}).get("content")
                if text and (problem := result.take(text, started)):
                    result.failure = problem
                    return
        else:
            result.failure = "stream ended before [DONE]"
    finally:
        writer.close()


async def sse_reply(
    host: str, port: int, cid: str, tokens: int, token: str, result: Result
) -> None:
    """A send on tokenwire's canonical API, its reply streamed as SSE."""
    body = json.dumps({"content": str(tokens)}).encode()
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream",
        "authorization": f"Bearer {token}",
    }
    started = time.monotonic()
    reader, writer = await _open(
        host, port, _post(f"/api/v1/conversations/{cid}/messages", body, headers)
    )
    try:
        status, _ = await _head(reader)
        if status != 200:
            result.failure = f"HTTP {status}"
            return
        async for data in _events(reader):
            event = json.loads(data)
            kind = event["type"]
            if kind == "message.delta":
                if problem := result.take(event["text"], started):
                    result.failure = problem
                    return
            elif kind == "message.end":
                return
            elif kind == "message.error":
                result.failure = event["error"]["code"]
                return
        result.failure = "stream ended before message.end"
    finally:
        writer.close()


def ws_frame(payload: bytes, opcode: int = 1) -> bytes:
    """One masked client frame (RFC 6455, 5.2)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


async def ws_read(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One unmasked server frame: (opcode, payload). Servers here send no fragments."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    return b0 & 0x0F, await reader.readexactly(n)


async def ws_open(
    host: str, port: int, path: str, token: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    key = base64.b64encode(os.urandom(16)).decode()
    raw = (
        f"GET {path} HTTP/1.1\r\nhost: bench\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        f"sec-websocket-key: {key}\r\nsec-websocket-version: 13\r\n"
        f"authorization: Bearer {token}\r\n\r\n"
    ).encode()
    reader, writer = await _open(host, port, raw)
    status, _ = await _head(reader)
    if status != 101:
        writer.close()
        raise ConnectionError(f"HTTP {status}")
    return reader, writer


async def ws_reply(host: str, port: int, cid: str, tokens: int, token: str, result: Result) -> None:
    """A ``message.send`` on the canonical WebSocket, its reply read from the same socket."""
    started = time.monotonic()
    try:
        reader, writer = await ws_open(host, port, f"/api/v1/conversations/{cid}/ws", token)
    except ConnectionError as exc:
        result.failure = str(exc)
        return
    try:
        send = {"type": "message.send", "content": str(tokens)}
        writer.write(ws_frame(json.dumps(send).encode()))
        while True:
            opcode, payload = await ws_read(reader)
            if opcode == 8:
                result.failure = "socket closed"
                return
            if opcode != 1:
                continue
            event = json.loads(payload)
            kind = event["type"]
            if kind == "message.delta":
                if problem := result.take(event["text"], started):
                    result.failure = problem
                    return
            elif kind == "message.end":
                return
            elif kind in ("message.error", "error"):
                result.failure = str(event.get("error", event))
                return
    finally:
        await ws_close(reader, writer)


async def ws_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The closing handshake (RFC 6455, 7.1.2): send a close, wait for the server's."""
    try:
        writer.write(ws_frame(b"\x03\xe8", opcode=8))
        async with asyncio.timeout(5):
            while (await ws_read(reader))[0] != 8:
                pass
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        pass
    finally:
        writer.close()


async def create_conversation(host: str, port: int, token: str) -> str:
    """A titled conversation: an untitled one has the model write its title after the first
    reply, one more upstream request whose tokens would count as the reply's."""
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    headers["connection"] = "close"
    body = b'{"title": "load"}'
    reader, writer = await _open(host, port, _post("/api/v1/conversations", body, headers))
    data = await reader.read()
    writer.close()
    return str(json.loads(data.split(b"\r\n\r\n", 1)[1])["id"])
