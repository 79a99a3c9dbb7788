"""A fault-injecting TCP proxy for tests: sits in front of a real server and breaks things.

Each connection it forwards is, with probability ``cut_rate`` (the first ``cut_first``
always), cut after a random number of bytes drawn from a seeded generator: server-to-client
at up to ``max_offset`` bytes, or now and then client-to-server, so that a request may or may
not reach the server. A cut aborts both sides at once, like a dropped network, mid-frame or
mid-character.

It reads the HTTP requests going through it (heads, and bodies by ``Content-Length``), so it
can also refuse what some proxies refuse: ``block_websocket`` answers a WebSocket upgrade
with an HTML 403, ``block_event_stream`` does the same to ``Accept: text/event-stream``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass

FORBIDDEN = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: 28\r\n"
    b"Connection: close\r\n\r\n<html>403 Forbidden</html>\r\n"
)


@dataclass
class ProxyStats:
    connections: int = 0
    forwarded: int = 0  # connections that reached the server
    cuts: int = 0
    blocked_upgrades: int = 0
    blocked_streams: int = 0


class _Cut(Exception):
    """The byte budget of a connection ran out."""


class _Budget:
    def __init__(self, limit: int | None) -> None:
        self.left = limit

    def take(self, data: bytes) -> bytes:
        """What may still pass of ``data``; the rest is lost to the cut."""
        if self.left is None:
            return data
        if len(data) < self.left:
            self.left -= len(data)
            return data
        allowed, self.left = data[: self.left], 0
        return allowed


class FaultProxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        seed: int = 0,
        cut_rate: float = 0.0,
        max_offset: int = 4000,
        upstream_cut_rate: float = 0.1,
        cut_first: int = 0,
    ) -> None:
        self.upstream_port = upstream_port
        self.rng = random.Random(seed)
        self.cut_rate = cut_rate
        self.max_offset = max_offset
        self.upstream_cut_rate = upstream_cut_rate
        self.cut_first = cut_first
        self.block_websocket = False
        self.block_event_stream = False
        self.stats = ProxyStats()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def cut_all(self) -> int:
        """Abort every open connection now; each counts as a cut. Returns how many."""
        writers = list(self._open)
        for writer in writers:
            writer.transport.abort()
        self.stats.cuts += len(writers)
        return len(writers)

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _budgets(self) -> tuple[_Budget, _Budget]:
        """(client-to-server, server-to-client) byte budgets for one connection."""
        certain = self.stats.forwarded <= self.cut_first
        if not certain and self.rng.random() >= self.cut_rate:
            return _Budget(None), _Budget(None)
        if not certain and self.rng.random() < self.upstream_cut_rate:
            return _Budget(self.rng.randint(0, 400)), _Budget(None)
        return _Budget(None), _Budget(self.rng.randint(0, self.max_offset))

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        self._open.add(client_w)
        server_w: asyncio.StreamWriter | None = None
        cut = False
        try:
            head = await _read_head(client_r)
            if head is None or await self._refused(head, client_r, client_w):
                return
            try:
                server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            except OSError:
                return
            self._open.add(server_w)
            self.stats.forwarded += 1
            up, down = self._budgets()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._requests(head, client_r, server_w, client_w, up))
                group.create_task(_pipe(server_r, client_w, down))
        except* _Cut:
            cut = True
            self.stats.cuts += 1
        except* (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            for writer in (client_w, server_w):
                if writer is None:
                    continue
                self._open.discard(writer)
                if cut:
                    writer.transport.abort()  # a dropped network: nothing more gets through
                else:
                    writer.close()

    async def _refused(
        self, head: bytes, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> bool:
        """Answer a blocked request with a 403 page, as a proxy would; True if it was."""
        lower = head.lower()
        if self.block_websocket and b"\r\nupgrade: websocket" in lower:
            self.stats.blocked_upgrades += 1
        elif self.block_event_stream and b"\r\naccept: text/event-stream" in lower:
            self.stats.blocked_streams += 1
        else:
            return False
        # Read the body first: closing with unread bytes would reset the connection and the
        # client would never see the 403.
        await client_r.readexactly(_content_length(head))
        client_w.write(FORBIDDEN)
        await client_w.drain()
        return True

    async def _requests(
        self,
        head: bytes,
        client_r: asyncio.StreamReader,
        server_w: asyncio.StreamWriter,
        client_w: asyncio.StreamWriter,
        budget: _Budget,
    ) -> None:
        """Forward requests one by one (the first was checked already), refusing any later
        one that is blocked; after a WebSocket upgrade the bytes are frames, and pass as is."""
        next_head: bytes | None = head
        while next_head is not None:
            await _forward(next_head, server_w, budget)
            if b"\r\nupgrade: websocket" in next_head.lower():
                await _pipe(client_r, server_w, budget)
                return
            length = _content_length(next_head)
            if length:
                await _forward(await client_r.readexactly(length), server_w, budget)
            next_head = await _read_head(client_r)
            if next_head is not None and await self._refused(next_head, client_r, client_w):
                raise OSError("refused")  # ends the connection, as after the first refusal
        server_w.write_eof()


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


async def _forward(data: bytes, writer: asyncio.StreamWriter, budget: _Budget) -> None:
    allowed = budget.take(data)
    writer.write(allowed)
    await writer.drain()
    if len(allowed) < len(data) or budget.left == 0:
        raise _Cut


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, budget: _Budget
) -> None:
    while data := await reader.read(65536):
        await _forward(data, writer, budget)
    with contextlib.suppress(OSError):
        writer.write_eof()
