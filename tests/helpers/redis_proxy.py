"""A TCP proxy in front of a real Redis that loses the answer to a command, or the command.

Armed with a command's name, it passes the next request of that command through to Redis and
drops the connection when Redis answers it: what a Redis killed between running a command and
its answer reaching the client leaves, or a network that drops then. redis-py then retries the
command on a new connection, which reaches a Redis that has already run it once. Armed with
``reaching=False``, it drops the connection as the request arrives instead: Redis never sees it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit


class ReplyDropper:
    """``arm(b"EVALSHA")``: the next ``EVALSHA`` reaches Redis and its answer is lost.
    ``on_drop`` runs when that answer arrives (or the request, when it is not to reach
    Redis), before the connection drops: the client is still waiting then. ``refusing``
    closes new connections at once, as a Redis that is down does."""

    def __init__(self, redis_url: str) -> None:
        parts = urlsplit(redis_url)
        self._redis_url = redis_url
        self._target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._armed: bytes | None = None
        self._times = 0
        self._reaching = True
        self.refusing = False
        self.dropped = asyncio.Event()
        self.on_drop: Callable[[], Awaitable[None]] | None = None
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """The Redis URL, through this proxy (its credentials, database and options kept)."""
        parts = urlsplit(self._redis_url)
        login, at, _ = parts.netloc.rpartition("@")
        return urlunsplit(parts._replace(netloc=f"{login}{at}127.0.0.1:{self.port}"))

    def arm(self, command: bytes, *, times: int = 1, reaching: bool = True) -> None:
        """Drop the next ``times`` requests of ``command``: after Redis answered them, or,
        not ``reaching``, before Redis saw them."""
        # A command's name travels as a RESP bulk string: ``$7\r\nEVALSHA\r\n``.
        self._armed = b"\r\n" + command + b"\r\n"
        self._times = times
        self._reaching = reaching

    async def __aenter__(self) -> ReplyDropper:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.refusing:
            client_w.transport.abort()
            return
        server_r, server_w = await asyncio.open_connection(*self._target)
        self._open.update((client_w, server_w))
        doomed = False

        async def up() -> None:
            nonlocal doomed
            while data := await client_r.read(65536):
                if self._armed is not None and self._armed in data:
                    self._times -= 1
                    if self._times == 0:
                        self._armed = None
                    if not self._reaching:
                        if self.on_drop is not None:
                            await self.on_drop()
                        self.dropped.set()
                        raise ConnectionResetError("the armed command is lost on its way")
                    doomed = True
                server_w.write(data)
                await server_w.drain()

        async def down() -> None:
            while data := await server_r.read(65536):
                if doomed:
                    if self.on_drop is not None:
                        await self.on_drop()
                    self.dropped.set()
                    raise ConnectionResetError("the answer to the armed command is lost")
                client_w.write(data)
                await client_w.drain()

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(up())
                group.create_task(down())
        except* (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in (client_w, server_w):
                self._open.discard(writer)
                writer.transport.abort()
