"""``ReplyStream``: one reply followed to its end, across cuts and transports.

A driver task takes the reply from the transport the ladder names, applies what arrives to
the reply's ``ReplyAssembler``, and on a cut waits as the backoff policy says, then
resumes from the last seq applied (or repeats the send, with the same
``client_message_id``, while the reply's id is still unknown).

The caller reads snapshots at its own pace: each read takes everything that arrived since
the one before, so a slow reader gets fewer, larger deltas and never holds the driver back.
The caller's text only grows: after a ``message.start`` reset, the text rebuilt from the
start is handed out only where it goes beyond what was handed out already.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from tokenwire.client.assembler import ReplyAssembler
from tokenwire.client.backoff import BackoffPolicy
from tokenwire.client.errors import APIError, ClientError, ConnectionFailed, TransportRefused
from tokenwire.client.ladder import TransportLadder
from tokenwire.client.models import Message, Reply, TransportKind
from tokenwire.client.state import StatusBoard
from tokenwire.client.tracks import Detour
from tokenwire.client.transports import Attempt, Transports


@dataclass(frozen=True)
class Connector:
    """What a stream needs from its client."""

    transports: Transports
    ladder: TransportLadder
    board: StatusBoard
    backoff: BackoffPolicy
    cancel: Callable[[str], Awaitable[Message]]
    fetch: Callable[[str], Awaitable[Message]]


class ReplyStream:
    """An assistant reply as it arrives: ``async for reply in stream`` yields ``Reply``
    snapshots until the reply has ended (``reply.is_streaming`` is then False).

    The stream runs from the moment it is made, whether or not anyone iterates it. Errors
    that retrying cannot fix (a 404, a refused token, a retry policy run out) are raised
    from the iteration and from ``result()``.
    """

    def __init__(
        self,
        connector: Connector,
        assembler: ReplyAssembler,
        *,
        content: str = "",
        client_message_id: str = "",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self._connector = connector
        self._asm = assembler
        self._content = content
        self._options = dict(options or {})
        self.client_message_id = client_message_id
        self._visible = assembler.text
        self._seen = -1
        self._last: Reply | None = None
        self._error: ClientError | None = None
        self._raised = False
        self._finished = False
        self._progressed = False
        self._changed = asyncio.Event()
        self._transport = connector.ladder.current()
        self._task = asyncio.create_task(self._drive(), name=f"reply {client_message_id}")

    # what callers see ------------------------------------------------------------------

    @property
    def message_id(self) -> str | None:
        """The reply's id, once the server has said it."""
        return self._asm.message_id

    @property
    def is_streaming(self) -> bool:
        return not self._finished

    @property
    def transport(self) -> TransportKind:
        """The transport that delivered the latest part of the reply."""
        return self._transport

    def __aiter__(self) -> ReplyStream:
        return self

    async def __anext__(self) -> Reply:
        while True:
            changed = self._changed
            reply = self._snapshot()
            if reply is not None:
                return reply
            if self._finished:
                if self._error is not None and not self._raised:
                    self._raised = True
                    raise self._error
                raise StopAsyncIteration
            await changed.wait()

    async def result(self) -> Reply:
        """Wait for the end of the reply and return it whole (``delta`` is empty)."""
        await asyncio.wait([self._task])
        if self._error is not None:
            raise self._error
        return self._reply(self._asm.text, "")

    async def cancel(self) -> None:
        """Ask the server to stop the reply: the stream then ends, ``CANCELLED``, with the
        text generated so far. Nothing happens when it has ended already."""
        while self._asm.message_id is None and not self._finished:
            await self._changed.wait()
        if self._asm.message_id is not None and not self._asm.done:
            await self._connector.cancel(self._asm.message_id)

    def add_done_callback(self, callback: Callable[[ReplyStream], None]) -> None:
        """Call ``callback(stream)`` once the stream has ended, however it ended."""
        self._task.add_done_callback(lambda _: callback(self))

    async def aclose(self) -> None:
        """Stop following the reply here; it goes on on the server."""
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def __aenter__(self) -> ReplyStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _snapshot(self) -> Reply | None:
        asm = self._asm
        if asm.message_id is None or asm.version == self._seen:
            return None
        self._seen = asm.version
        # Rebuilding after a reset, the assembler's text is shorter than what was handed
        # out until it catches up; only what goes beyond is new.
        text = asm.text if len(asm.text) >= len(self._visible) else self._visible
        delta = text[len(self._visible) :]
        self._visible = text
        last = self._last
        if (
            last is not None
            and not delta
            and last.status is asm.status
            and last.queue_position == asm.queue_position
        ):
            return None
        self._last = self._reply(text, delta)
        return self._last

    def _reply(self, text: str, delta: str) -> Reply:
        asm = self._asm
        return Reply(
            message_id=asm.message_id or "",
            conversation_id=asm.conversation_id,
            text=text,
            delta=delta,
            seq=asm.seq,
            status=asm.status,
            transport=self._transport,
            finish_reason=asm.finish_reason,
            error=asm.error,
            queue_position=asm.queue_position,
            user_message_id=asm.user_message_id,
        )

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # the driver ------------------------------------------------------------------------

    async def _drive(self) -> None:
        try:
            await self._follow()
        except ClientError as exc:
            self._error = exc
        finally:
            self._finished = True
            self._notify()

    async def _follow(self) -> None:
        c = self._connector
        delays = c.backoff()
        detour: TransportKind | None = None
        while not self._asm.done:
            kind, detoured, detour = detour or c.ladder.current(), detour is not None, None
            self._progressed = False
            try:
                if not self._asm.conversation_id:
                    await self._locate()
                else:
                    await self._attempt(kind, report=not detoured)
            except Detour:
                # The socket has this reply from another point: one attempt another way.
                detour = c.ladder.below(kind)
                if detour is None:
                    await c.transports.reset(self._asm.conversation_id)
            except ConnectionFailed as exc:
                c.board.down(exc, kind)
                if isinstance(exc, TransportRefused):
                    c.ladder.refused(kind)
                    if c.ladder.current() is not kind:
                        continue  # another transport is there to try at once
                if self._progressed:
                    delays = c.backoff()  # it moved on: the next cut starts the policy afresh
                await self._pause(delays, exc)
            except APIError as exc:
                if not exc.retryable:
                    raise
                await self._pause(delays, exc)

    async def _locate(self) -> None:
        """A reply resumed by id alone: its stored row says where it lives and how far it
        has got, which is where following it starts."""
        assert self._asm.message_id is not None
        if self._asm.apply_message(await self._connector.fetch(self._asm.message_id)):
            self._progressed = True
            self._notify()

    async def _attempt(self, kind: TransportKind, *, report: bool = True) -> None:
        """Follow the reply on ``kind`` until its end; raises ``ConnectionFailed`` if cut.
        A detour does not ``report``: it says nothing of how well ``kind`` works."""
        c = self._connector
        asm = self._asm
        attempt = Attempt(
            conversation_id=asm.conversation_id,
            message_id=asm.message_id,
            after=asm.seq,
            content=self._content,
            client_message_id=self.client_message_id,
            options=self._options,
        )
        delivered = False
        items = c.transports.items(kind, attempt)
        try:
            async for item in items:
                if not delivered:
                    delivered = True
                    self._transport = kind
                    if report:
                        c.ladder.worked(kind)
                        c.board.up(kind)
                applied = asm.apply_message(item) if isinstance(item, Message) else asm.apply(item)
                if applied:
                    self._progressed = True
                    self._notify()
        except ConnectionFailed as exc:
            benign = isinstance(exc, TransportRefused | Detour)
            if report and not delivered and exc.reachable and not benign:
                c.ladder.failed(kind)
            raise
        finally:
            await items.aclose()
        if not asm.done:
            raise ConnectionFailed("the transport stopped before the reply ended")

    async def _pause(self, delays: Iterator[float], exc: ClientError) -> None:
        delay = next(delays, None)
        if delay is None:
            raise exc  # the policy gave up
        if isinstance(exc, APIError) and exc.retry_after:
            delay = max(delay, exc.retry_after)
        await asyncio.sleep(delay)
