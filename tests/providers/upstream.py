"""A small real OpenAI-compatible upstream for tests, on a free port, speaking HTTP/1.1.

Each request is answered by the next ``Reply`` in its script (the last one repeats). The
server records every request body, and for each connection whether the client went away
before the reply was complete: that is how tests see a cancel reach the upstream.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """What the upstream answers with.

    ``deltas`` stream as chat completion chunks, one every ``delay`` seconds, then each of
    ``tool_calls`` (a ``delta.tool_calls`` entry) in a chunk of its own; ``logprobs``, when
    given, is the ``logprobs`` of each delta's chunk in turn. ``status`` other than 200 sends
    ``body`` instead. ``raw`` frames replace the chunk stream entirely.
    ``done=False`` ends the body without ``data: [DONE]``; ``cut`` drops the connection
    after the deltas without ending the body; ``hang`` never answers at all.
    """

    deltas: Sequence[str] = ("Hello", " there", "!")
    tool_calls: Sequence[dict[str, Any]] = ()
    logprobs: Sequence[dict[str, Any]] = ()
    delay: float = 0.0
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    raw: Sequence[bytes] | None = None
    done: bool = True
    cut: bool = False
    hang: bool = False
    finish_reason: str = "stop"


class Upstream:
    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies) or [Reply()]
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.disconnects = 0  # replies the client abandoned before they were complete
        self.disconnected = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1"

    async def __aenter__(self) -> Upstream:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.headers.append(headers)
        self.requests.append(json.loads(body))
        reply = self.replies[min(len(self.requests) - 1, len(self.replies) - 1)]
        if reply.hang:
            await reader.read()  # until the client gives up
            self._client_left()
            return
        if reply.status != 200:
            extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
            writer.write(
                f"HTTP/1.1 {reply.status} Error\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(reply.body)}\r\nConnection: close\r\n{extra}\r\n".encode()
                + reply.body
            )
            await writer.drain()
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        # Reading watches for the client closing its end while the reply is still going.
        watcher = asyncio.create_task(reader.read())
        try:
            for frame in self._frames(reply):
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                if watcher.done():
                    self._client_left()
                    return
                try:
                    writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
                    await writer.drain()
                except ConnectionError:
                    self._client_left()
                    return
            if reply.cut:
                return
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        finally:
            watcher.cancel()

    def _frames(self, reply: Reply) -> list[bytes]:
        if reply.raw is not None:
            return list(reply.raw)
        frames = [_chunk({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})]
        for i, text in enumerate(reply.deltas):
            choice: dict[str, Any] = {"index": 0, "delta": {"content": text}}
            if i < len(reply.logprobs):
                choice["logprobs"] = reply.logprobs[i]
            frames.append(_chunk({"choices": [choice]}))
        frames += [
            _chunk({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
            for call in reply.tool_calls
        ]
        if not reply.cut:
            end = {"index": 0, "delta": {}, "finish_reason": reply.finish_reason}
            frames.append(_chunk({"choices": [end]}))
            pieces = len(reply.deltas) + len(reply.tool_calls)
            usage = {"prompt_tokens": 11, "completion_tokens": pieces}
            frames.append(_chunk({"choices": [], "usage": usage}))
            if reply.done:
                frames.append(b"data: [DONE]\n\n")
        return frames

    def _client_left(self) -> None:
        self.disconnects += 1
        self.disconnected.set()


def _chunk(payload: dict[str, Any]) -> bytes:
    payload = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "up", **payload}
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


class UpstreamThread:
    """An ``Upstream`` on its own event loop in a thread, for tests that are not async
    (a ``tokenwire serve`` subprocess talking to it)."""

    def __init__(self, *replies: Reply) -> None:
        self.upstream = Upstream(*replies)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> Upstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.upstream.__aenter__(), self._loop).result(5)
        return self.upstream

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.upstream.__aexit__(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def wait_disconnect(self, seconds: float) -> bool:
        """Whether a client abandoned a reply within ``seconds``."""

        async def wait() -> bool:
            try:
                await asyncio.wait_for(self.upstream.disconnected.wait(), seconds)
            except TimeoutError:
                return False
            return True

        return asyncio.run_coroutine_threadsafe(wait(), self._loop).result(seconds + 1)
