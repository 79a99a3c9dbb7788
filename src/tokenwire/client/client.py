"""``AsyncTokenwire``: the asynchronous client of a tokenwire server."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from tokenwire.client.assembler import ReplyAssembler
from tokenwire.client.backoff import Backoff, BackoffPolicy
from tokenwire.client.chat import ChatFeatures
from tokenwire.client.errors import (
    APIError,
    ClientError,
    ConnectionFailed,
    NotFoundError,
    TransportRefused,
)
from tokenwire.client.http import Credentials, RestAPI, TokenRefresher
from tokenwire.client.ladder import ORDER, TransportLadder
from tokenwire.client.models import Conversation, Message, Page, Persona, TransportKind
from tokenwire.client.state import ConnectionState, ConnectionStatus, Listener, StatusBoard
from tokenwire.client.stream import Connector, ReplyStream
from tokenwire.client.transports import Transports
from tokenwire.client.websocket import ConversationLink
from tokenwire.protocol.resources import PersonaList

T = TypeVar("T")
GET_RETRIES = 3


class AsyncTokenwire(ChatFeatures):
    """A client of one tokenwire server, for one user.

    Replies travel over a WebSocket per conversation when possible, else over SSE, else by
    polling; the client steps down when a transport fails and climbs back ``climb_after``
    seconds later. Cut connections are resumed after delays from ``backoff`` (any callable
    returning an iterator of seconds; ``Backoff()`` by default: exponential, full jitter,
    forever). ``refresh_token``, when given, is awaited for a new token after a 401.

    ``keepalive`` (seconds) checks the connection in the background while idle, so that
    ``status`` follows a server that goes away and comes back. Use the client as an async
    context manager, or call ``aclose()``.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        backoff: BackoffPolicy | None = None,
        refresh_token: TokenRefresher | None = None,
        transports: Sequence[TransportKind] = ORDER,
        climb_after: float = 30.0,
        poll_interval: float = 0.5,
        keepalive: float | None = None,
        timeout: float = 30.0,
        ping_interval: float | None = 20.0,
        http_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = Credentials(token, refresh_token)
        self._rest = RestAPI(
            self.base_url,
            self._credentials,
            timeout=httpx.Timeout(timeout, read=max(timeout, 60.0)),
            transport=http_transport,
        )
        self._ladder = TransportLadder(climb_after=climb_after, allowed=tuple(transports))
        self._board = StatusBoard(self._ladder.current())
        self._transports = Transports(self._rest, self._make_link, poll_interval=poll_interval)
        self._backoff = backoff or Backoff()
        self._timeout = timeout
        self._ping_interval = ping_interval
        self._keepalive_s = keepalive
        self._keepalive: asyncio.Task[None] | None = None
        self._streams: set[ReplyStream] = set()
        self._focus: str | None = None
        self._connector = Connector(
            transports=self._transports,
            ladder=self._ladder,
            board=self._board,
            backoff=self._backoff,
            cancel=self.cancel,
            fetch=self.message,
        )

    # connection state ------------------------------------------------------------------

    @property
    def status(self) -> ConnectionStatus:
        return self._board.state.status

    @property
    def transport(self) -> TransportKind:
        """The transport replies use now (the best one not benched)."""
        return self._ladder.current()

    @property
    def state(self) -> ConnectionState:
        return self._board.state

    def on_state_change(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(state)`` on every change; returns a function that stops it."""
        return self._board.listen(listener)

    async def wait_for_status(self, *statuses: ConnectionStatus) -> ConnectionState:
        """Wait until the status is one of ``statuses``."""
        return await self._board.wait_for(lambda state: state.status in statuses)

    async def check(self) -> ConnectionState:
        """Check the connection now: open the WebSocket of the conversation last used when
        WebSocket is the transport to use, else ask the server's health endpoint."""
        while True:
            kind = self._ladder.current()
            try:
                if kind is TransportKind.WEBSOCKET and self._focus is not None:
                    await (await self._transports.link(self._focus)).open()
                else:
                    await self._rest.request("GET", "/healthz")
            except TransportRefused as exc:
                self._ladder.refused(kind)
                self._board.down(exc, kind)
                if self._ladder.current() is not kind:
                    continue
            except ConnectionFailed as exc:
                self._board.down(exc, kind)
            except NotFoundError:
                self._focus = None  # the conversation is gone: ask the server's health instead
                continue
            except ClientError as exc:
                self._board.down(ConnectionFailed(str(exc)), kind)
            else:
                self._ladder.worked(kind)
                self._board.up(kind)
            return self._board.state

    # conversations, history, personas -------------------------------------------------------

    async def create_conversation(
        self,
        *,
        title: str | None = None,
        persona: str | None = None,
        model: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Conversation:
        body = {"title": title, "persona": persona, "model": model, "metadata": metadata or {}}
        return await self._rest.call("POST", "/api/v1/conversations", Conversation, json=body)

    async def conversations(
        self, *, limit: int = 50, before: str | None = None
    ) -> Page[Conversation]:
        """The user's conversations, newest activity first."""
        params = _params(limit=limit, before=before)
        return await self._get("/api/v1/conversations", Page[Conversation], params)

    async def conversation(self, conversation_id: str) -> Conversation:
        return await self._get(f"/api/v1/conversations/{conversation_id}", Conversation)

    async def update_conversation(
        self, conversation_id: str, *, title: str | None = None, persona: str | None = None
    ) -> Conversation:
        """Rename a conversation or give it another persona (the fields given change)."""
        body = _params(title=title, persona=persona)
        return await self._rest.call(
            "PATCH", f"/api/v1/conversations/{conversation_id}", Conversation, json=body
        )

    async def delete_conversation(self, conversation_id: str) -> None:
        await self._rest.request("DELETE", f"/api/v1/conversations/{conversation_id}")

    async def history(
        self, conversation_id: str, *, limit: int = 100, before: str | None = None
    ) -> Page[Message]:
        """A conversation's messages, oldest first."""
        self._focus = conversation_id
        params = _params(limit=limit, before=before)
        path = f"/api/v1/conversations/{conversation_id}/messages"
        return await self._get(path, Page[Message], params)

    async def message(self, message_id: str) -> Message:
        return await self._get(f"/api/v1/messages/{message_id}", Message)

    async def personas(self) -> list[Persona]:
        return (await self._get("/api/v1/personas", PersonaList)).items

    # replies ---------------------------------------------------------------------------

    def send(
        self,
        conversation_id: str,
        content: str,
        *,
        client_message_id: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> ReplyStream:
        """Send a user message; the returned stream yields the reply as it arrives.

        ``options`` are the turn's options in OpenAI's shapes, as the server takes them
        (``max_tokens``, ``stop``, ``temperature``, ``tools``, ``response_format``,
        ``tool_call_id`` ...); one it cannot honour is refused by name (``BadRequest``).

        The send carries a ``client_message_id`` (made up when not given): sent again
        after a cut, it returns the first reply, so no cut ever makes a second one.
        """
        self._start()
        self._focus = conversation_id
        return self._track(
            ReplyStream(
                self._connector,
                ReplyAssembler(conversation_id=conversation_id),
                content=content,
                client_message_id=client_message_id or str(uuid.uuid4()),
                options=options,
            )
        )

    def resume(self, reply: Message | str) -> ReplyStream:
        """Follow a reply to its end. Given a stored ``Message`` (from ``history``), the
        stream continues from its ``seq``, after the ``content`` you have; given an id, it
        starts from the reply's stored state."""
        if isinstance(reply, Message):
            self._focus = reply.conversation_id
            assembler = ReplyAssembler.from_message(reply)
        else:
            assembler = ReplyAssembler(message_id=reply)
        return self._follow(assembler)

    def _follow(self, assembler: ReplyAssembler) -> ReplyStream:
        """A stream that follows the reply ``assembler`` stands for, from where it stands."""
        self._start()
        return self._track(ReplyStream(self._connector, assembler))

    async def cancel(self, message_id: str) -> Message:
        """Stop a reply (its partial text is kept); returns it as stored. Idempotent, so
        a cut request is simply sent again."""
        delays = self._backoff()
        while True:
            try:
                return await self._rest.call(
                    "POST", f"/api/v1/messages/{message_id}/cancel", Message
                )
            except ClientError as exc:
                await _retry_or_raise(exc, delays)

    # life cycle ------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            await asyncio.gather(self._keepalive, return_exceptions=True)
        await asyncio.gather(*(s.aclose() for s in list(self._streams)), return_exceptions=True)
        await self._transports.aclose()
        await self._rest.aclose()
        self._board.close()

    async def __aenter__(self) -> AsyncTokenwire:
        self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _get(self, path: str, into: type[T], params: dict[str, Any] | None = None) -> T:
        """A read, tried again after a cut: it changes nothing on the server. A few times
        only, so that a call made while the server is away fails rather than hangs."""
        delays = itertools.islice(self._backoff(), GET_RETRIES)
        while True:
            try:
                return await self._rest.call("GET", path, into, params=params)
            except ClientError as exc:
                await _retry_or_raise(exc, delays)

    def _start(self) -> None:
        if self._keepalive_s is not None and self._keepalive is None:
            self._keepalive = asyncio.create_task(self._keep_alive(self._keepalive_s))

    async def _keep_alive(self, every: float) -> None:
        while True:
            await self.check()
            await asyncio.sleep(every)

    def _track(self, stream: ReplyStream) -> ReplyStream:
        self._streams.add(stream)
        stream.add_done_callback(self._streams.discard)
        return stream

    def _make_link(self, conversation_id: str) -> ConversationLink:
        scheme, rest = self.base_url.split("://", 1)
        ws_scheme = "wss" if scheme == "https" else "ws"
        return ConversationLink(
            f"{ws_scheme}://{rest}/api/v1/conversations/{conversation_id}/ws",
            self._credentials,
            open_timeout=self._timeout,
            ping_interval=self._ping_interval,
            answer_timeout=self._timeout,
            on_drop=lambda error: self._board.down(error, TransportKind.WEBSOCKET),
        )


async def _retry_or_raise(exc: ClientError, delays: Iterator[float]) -> None:
    delay = next(delays, None) if exc.retryable else None
    if delay is None:
        raise exc
    if isinstance(exc, APIError) and exc.retry_after:
        delay = max(delay, exc.retry_after)
    await asyncio.sleep(delay)


def _params(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
