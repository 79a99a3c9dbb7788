"""Any OpenAI-compatible upstream: OpenAI, vLLM, llama.cpp's server, Ollama.

Streams ``POST {base}/chat/completions`` with ``stream: true`` and
``stream_options.include_usage`` (so the last chunk carries the token counts) and parses the
Server-Sent Events with the project's own decoder. Cancelling the task that iterates
``stream()`` leaves the ``async with`` around the response, which closes it: a connection
that is mid-body cannot go back to the pool, so the upstream sees it drop.

The transport is aiohttp: its C parser costs a few microseconds per chunk, where httpx over
httpcore and anyio opened a cancel scope per read and walked the whole connection pool for
every request (docs/performance.md). The pool has no size limit: every running reply holds
one upstream connection, as it must.

The read timeout (``timeout_s``) bounds the wait for the response head and for each piece
of the body after the last. aiohttp's own ``sock_read`` cancels its timer and makes a new
one for every piece that arrives (a handle, a libuv timer and a copy of the context, for
each token); ``_Deadline`` keeps one timer per reply, which only looks, when it fires, at
when the last piece came, and sets itself again for the rest.

Every failure is translated into ``ProviderError`` in one place, ``_translate``:

    connect error, timeout, 429, 5xx, error object in the stream,
    stream cut before [DONE]                                      retryable
    other 4xx, malformed chunk                                    not retryable
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
import msgspec
from aiohttp.helpers import basicauth_from_netrc, get_env_proxy_for_url, netrc_from_env
from yarl import URL

from tokenwire.errors import ProviderError
from tokenwire.protocol.sse import SSEDecoder
from tokenwire.providers.base import Done, GenerationRequest, StreamItem
from tokenwire.providers.openai_fields import ChunkChoice, choice_items, message, request_fields

__all__ = ["OpenAIProvider"]


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Chunk(msgspec.Struct):
    choices: list[ChunkChoice] = msgspec.field(default_factory=list)
    usage: _Usage | None = None
    error: dict[str, Any] | None = None


_decode_chunk = msgspec.json.Decoder(_Chunk).decode


class _Upstream(Exception):
    """What the upstream did wrong, before ``_translate`` makes it a ``ProviderError``."""


class _Refused(_Upstream):
    """An error status; the body and headers say more."""

    def __init__(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers


class _Malformed(_Upstream):
    """A chunk that is not the JSON the protocol promises."""


class _Incomplete(_Upstream):
    """The body ended before ``data: [DONE]``."""


class _StreamedError(_Upstream):
    """The upstream sent an error object in place of a chunk."""


class OpenAIProvider:
    """A provider speaking the OpenAI chat completions streaming protocol over aiohttp."""

    name = "openai"
    # Passed through: whether the upstream's model honours them is the upstream's to say.
    supports_tools = True
    supports_logprobs = True
    supports_response_format = True

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 10.0,
        supports_images: bool = True,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> None:
        self.model = model
        self.supports_images = supports_images
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        # The longest wait for the response head or between two pieces of the body: kept by
        # ``stream`` itself, not aiohttp's sock_read (the module's docstring says why).
        self._read_timeout_s = timeout_s
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(connect_timeout_s, timeout_s), sock_read=None
        )
        self._session: aiohttp.ClientSession | None = None  # made on the loop that uses it
        self._proxy: _Proxy | None = None

    def admit(self) -> None:
        # The upstream does its own admission; a 429 from it comes back as a retryable error.
        return None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                # Every running reply holds one upstream connection: no cap on the pool.
                connector=aiohttp.TCPConnector(limit=0),
                # The environment is read once, in ``_proxy_for``: with ``trust_env`` aiohttp
                # reads it and ~/.netrc again in a worker thread on every request.
                trust_env=False,
            )
        if self._proxy is None:
            self._proxy = _proxy_for(self._url, login="Authorization" not in self._headers)
        return self._session

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body of the upstream request."""
        messages: list[dict[str, Any]] = [message(turn) for turn in request.messages]
        if request.prefix:
            # A trailing assistant message is the partial reply to continue: llama.cpp's server,
            # vLLM and Ollama take it as the start of the assistant turn (prefill).
            messages.append({"role": "assistant", "content": request.prefix})
        body: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        body.update(
            request_fields(request, max_tokens=self._max_tokens, temperature=self._temperature)
        )
        return body

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        data = msgspec.json.encode(self.body(request))
        deadline: _Deadline | None = None
        try:
            client = self._client()
            proxy = self._proxy
            assert proxy is not None
            async with asyncio.timeout(self._read_timeout_s):
                response = await client.post(
                    self._url, data=data, proxy=proxy.url, proxy_auth=proxy.auth, auth=proxy.netrc
                )
            async with response:
                if response.status >= 400:
                    async with asyncio.timeout(self._read_timeout_s):
                        body = await response.read()
                    raise _Refused(response.status, body, response.headers)
                deadline = _Deadline(self._read_timeout_s, response)
                # One async generator between the response and the run: the parse is plain code.
                chunks = _Chunks()
                content = response.content
                while True:
                    deadline.reading = True
                    raw = await content.readany()
                    deadline.reading = False
                    if not raw:
                        break
                    for item in chunks.feed(raw):
                        yield item
                    if chunks.failed is not None:
                        raise chunks.failed
                    if chunks.done:
                        return
                    deadline.read()
                raise _Incomplete("the upstream stream ended before [DONE]")
        except (aiohttp.ClientError, TimeoutError, _Upstream) as exc:
            failure: Exception = exc
            if deadline is not None and deadline.expired:  # the read failed as it was closed
                failure = TimeoutError(f"no data from the upstream for {self._read_timeout_s:g} s")
            raise _translate(failure, self._url) from exc
        finally:
            if deadline is not None:
                deadline.cancel()


class _Deadline:
    """The read timeout of one response's body, with one timer for the whole body.

    ``read()`` notes when a piece arrived; ``reading`` says the stream waits on the upstream
    (time spent handing items to the caller, between reads, is not the upstream's). When the
    timer fires it sets itself again for what is left of the timeout since the last piece,
    or, if the whole timeout passed while waiting, closes the response: the read under way
    then fails, and ``expired`` tells that failure from others.
    """

    __slots__ = ("_handle", "_last", "_loop", "_response", "_timeout_s", "expired", "reading")

    def __init__(self, timeout_s: float, response: aiohttp.ClientResponse) -> None:
        self._loop = asyncio.get_running_loop()
        self._timeout_s = timeout_s
        self._response = response
        self._last = self._loop.time()
        self.reading = False
        self.expired = False
        self._handle = self._loop.call_at(self._last + timeout_s, self._check)

    def read(self) -> None:
        self._last = self._loop.time()

    def _check(self) -> None:
        now = self._loop.time()
        if not self.reading:
            self._last = now  # the caller held the stream: the wait starts again at its read
        due = self._last + self._timeout_s
        if due > now:
            self._handle = self._loop.call_at(due, self._check)
            return
        self.expired = True
        self._response.close()

    def cancel(self) -> None:
        self._handle.cancel()


class _Chunks:
    """The stream items in the SSE body of a successful response, as its bytes arrive."""

    __slots__ = ("_decoder", "_finish", "_usage", "done", "failed")

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._finish: str | None = None
        self._usage: _Usage | None = None
        self.done = False  # [DONE] came: nothing after it is read
        # What ended the stream badly, raised once the items before it are delivered.
        self.failed: _Upstream | None = None

    def feed(self, raw: bytes) -> list[StreamItem]:
        items: list[StreamItem] = []
        for event in self._decoder.feed(raw):
            if event.data == "[DONE]":
                items.append(_done(self._finish, self._usage))
                self.done = True
                return items
            if not event.data:
                continue
            try:
                chunk = _decode_chunk(event.data)
            except msgspec.DecodeError as exc:
                self.failed = _Malformed(str(exc))
                self.failed.__cause__ = exc
                return items
            if chunk.error is not None:
                self.failed = _StreamedError(str(chunk.error.get("message") or chunk.error))
                return items
            if chunk.usage is not None:
                self._usage = chunk.usage
            for choice in chunk.choices[:1]:
                items += choice_items(choice)
                if choice.finish_reason is not None:
                    self._finish = choice.finish_reason
        return items


def _done(finish: str | None, usage: _Usage | None) -> Done:
    reason: Literal["stop", "length", "tool_calls"] = "stop"
    if finish == "length":
        reason = "length"
    elif finish == "tool_calls":
        reason = "tool_calls"
    if usage is None:
        return Done(reason, 0, 0)
    return Done(reason, usage.prompt_tokens, usage.completion_tokens)


def _translate(exc: Exception, url: str) -> ProviderError:
    """The one place where upstream failures become ``ProviderError``."""
    if isinstance(exc, _Refused):
        status = exc.status
        detail = _error_detail(exc.body)
        retry_after = _retry_after(exc.headers.get("retry-after"))
        if status == 429:
            return ProviderError(
                f"the upstream model is rate limited (HTTP 429){detail}",
                code="upstream_rate_limited",
                retryable=True,
                retry_after=retry_after,
            )
        if status >= 500:
            return ProviderError(
                f"the upstream model failed (HTTP {status}){detail}",
                code="upstream_unavailable",
                retryable=True,
                retry_after=retry_after,
            )
        return ProviderError(
            f"the upstream model refused the request (HTTP {status}){detail}",
            code="upstream_rejected",
            retryable=False,
        )
    if isinstance(exc, TimeoutError):  # aiohttp's read and connect timeouts are TimeoutErrors
        return ProviderError(
            f"the upstream model timed out ({type(exc).__name__})",
            code="upstream_timeout",
            retryable=True,
        )
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.InvalidURL):
        return ProviderError(
            f"cannot connect to the upstream model at {url}: {exc}",
            code="upstream_unreachable",
            retryable=True,
        )
    if isinstance(exc, _Malformed):
        return ProviderError(
            f"the upstream model sent a malformed chunk: {exc}",
            code="upstream_malformed",
            retryable=False,
        )
    if isinstance(exc, _StreamedError):
        return ProviderError(
            f"the upstream model reported an error: {exc}",
            code="upstream_error",
            retryable=True,  # the in-stream form of a 5xx: the status line was already sent
        )
    # The body was cut: _Incomplete, or a transport error while reading it.
    return ProviderError(
        f"the upstream stream broke off before it finished: {exc or type(exc).__name__}",
        code="upstream_incomplete",
        retryable=True,
    )


def _error_detail(body: bytes) -> str:
    """``": <upstream message>"`` when the error body carries one, else nothing."""
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError:
        text = body.decode("utf-8", "replace").strip()
        return f": {text[:200]}" if text else ""
    error = payload.get("error") if isinstance(payload, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    return f": {str(message)[:200]}" if message else ""


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; callers fall back to their own delay


@dataclass(frozen=True, slots=True)
class _Proxy:
    url: URL | None = None
    auth: aiohttp.BasicAuth | None = None
    netrc: aiohttp.BasicAuth | None = None  # the upstream's own login, when ~/.netrc has one


def _proxy_for(url: str, *, login: bool) -> _Proxy:
    """What ``trust_env`` would find for ``url``: ``HTTP(S)_PROXY`` unless ``NO_PROXY`` lets
    it through, and a ~/.netrc login for the host when no API key is sent (as httpx honoured
    them), read once for a provider whose upstream never changes."""
    target = URL(url)
    proxy, proxy_auth = None, None
    with contextlib.suppress(LookupError):
        proxy, proxy_auth = get_env_proxy_for_url(target)
    netrc = None
    if login and target.host is not None:
        with contextlib.suppress(LookupError):
            netrc = basicauth_from_netrc(netrc_from_env(), target.host)
    return _Proxy(proxy, proxy_auth, netrc)
