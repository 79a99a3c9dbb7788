"""Chunks written straight to uvicorn's transport (``http/chunks.py``), against the uvicorn
installed: a real server (httptools, as ``tokenwire serve`` runs it) on a free port, read
over a real socket.

The writer writes only while doing so is what uvicorn's ``send`` would do, and otherwise
leaves the chunk to ``send``; the body a client reads is then whole and in order, through a
buffer that fills up, and nothing is written after the body's end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from tests.helpers.server import free_port
from tokenwire.http import chunks

pytestmark = pytest.mark.anyio

App = Callable[[Scope, Receive, Send], Awaitable[None]]
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/event-stream")],
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def serving(app: App) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        chunks.exposing(app), port=port, http="httptools", lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(60):
            while not server.started:  # noqa: ASYNC110 (uvicorn says so by a flag only)
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def body(send: Send, data: bytes, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})


async def test_direct_chunks_and_sent_ones_make_one_body_and_none_after_its_end() -> None:
    wrote: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        write = chunks.writer(scope)
        assert write is not None
        wrote.append(write(chunks.chunk(b"early ")))  # before the start: not chunked yet
        await send(START)
        wrote.append(write(chunks.chunk(b"one ")))
        await body(send, b"two ")
        wrote.append(write(chunks.chunk(b"three")))
        await body(send, b"", more=False)
        wrote.append(write(chunks.chunk(b" late")))  # the body has ended

    async for url in serving(app):
        async with httpx.AsyncClient() as client:
            first = await client.get(url)
            again = await client.get(url)  # the same kept-alive connection, undisturbed
    assert first.content == again.content == b"one two three"
    assert wrote == [False, True, True, False] * 2


async def test_no_writer_for_a_head_request_or_a_scope_without_a_cycle() -> None:
    writers: list[object] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        writers.append(chunks.writer(scope))
        writers.append(chunks.writer({k: v for k, v in scope.items() if k != chunks.KEY}))
        await send(START)
        await body(send, b"", more=False)

    async for url in serving(app):
        async with httpx.AsyncClient() as client:
            assert (await client.head(url)).status_code == 200
            assert (await client.get(url)).status_code == 200
    assert writers[:3] == [None, None, writers[2]]
    assert callable(writers[2])
    assert writers[3] is None


async def test_a_full_buffer_sends_through_asgi_and_the_order_holds() -> None:
    # The client reads nothing until the server's transport has paused writing (its buffer
    # is full): the writer then declines, the chunk goes through ``send``, which waits for
    # the client to read, and the direct writes resume after it.
    paused = asyncio.Event()
    declined: list[int] = []
    piece = 16 * 1024

    def numbered(n: int) -> bytes:
        return f"{n:08d}".encode() * (piece // 8)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        write = chunks.writer(scope)
        assert write is not None
        await send(START)
        n = 0
        while len(declined) < 3 and n < 4_000:  # 64 MB: far past any socket's buffers
            if not write(chunks.chunk(numbered(n))):
                declined.append(n)
                paused.set()
                await body(send, numbered(n))  # waits for room
            n += 1
        await body(send, b"", more=False)

    async for url in serving(app):
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(60):
            await paused.wait()
        raw = await asyncio.wait_for(_read_response(reader), 60)
        writer.close()
    assert len(declined) == 3
    numbers = [int(raw[i : i + 8]) for i in range(0, len(raw), piece)]
    assert numbers == list(range(len(numbers)))
    assert len(numbers) == declined[-1] + 1
    assert all(raw[i * piece : (i + 1) * piece] == numbered(i) for i in range(len(numbers)))


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    """The body of a chunked HTTP/1.1 response, decoded chunk by chunk."""
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    out = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
        data = await reader.readexactly(size + 2)
        assert data.endswith(b"\r\n")
        if size == 0:
            return bytes(out)
        out += data[:-2]
