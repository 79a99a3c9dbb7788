"""Any OpenAI-compatible upstream: OpenAI, vLLM, llama.cpp's server, Ollama.

Streams ``POST {base}/chat/completions`` with ``stream: true`` and
``stream_options.include_usage`` (so the last chunk carries the token counts) and parses the
Server-Sent Events with the project's own decoder. Cancelling the task that iterates
``stream()`` leaves the ``async with`` around the response, which closes it: a connection
that is mid-body cannot go back to the pool, so the upstream sees it drop.

The transport is aiohttp: its C parser and one timer re-armed per read cost a few
microseconds per chunk, where httpx over httpcore and anyio opened a cancel scope per read
and walked the whole connection pool for every request (docs/performance.md). The pool has
no size limit: every running reply holds one upstream connection, as it must.

Every failure is translated into ``ProviderError`` in one place, ``_translate``:

    connect error, timeout, 429, 5xx, error object in the stream,
    stream cut before [DONE]                                      retryable
    other 4xx, malformed chunk                                    not retryable
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import aiohttp
import msgspec

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
        # sock_read: the longest wait for the response head or between two pieces of the body.
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(connect_timeout_s, timeout_s), sock_read=timeout_s
        )
        self._session: aiohttp.ClientSession | None = None  # made on the loop that uses it

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
                trust_env=True,  # HTTP(S)_PROXY and NO_PROXY, as httpx honoured them
            )
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
        try:
            async with self._client().post(self._url, data=data) as response:
                if response.status >= 400:
                    raise _Refused(response.status, await response.read(), response.headers)
                async for item in _items(response):
                    yield item
        except (aiohttp.ClientError, TimeoutError, _Upstream) as exc:
            raise _translate(exc, self._url) from exc


async def _items(response: aiohttp.ClientResponse) -> AsyncIterator[StreamItem]:
    """Stream items from the SSE body of a successful response."""
    decoder = SSEDecoder()
    finish: str | None = None
    usage: _Usage | None = None
    async for raw in response.content.iter_any():
        for event in decoder.feed(raw):
            if event.data == "[DONE]":
                yield _done(finish, usage)
                return
            if not event.data:
                continue
            try:
                chunk = _decode_chunk(event.data)
            except msgspec.DecodeError as exc:
                raise _Malformed(str(exc)) from exc
            if chunk.error is not None:
                raise _StreamedError(str(chunk.error.get("message") or chunk.error))
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices[:1]:
                for item in choice_items(choice):
                    yield item
                if choice.finish_reason is not None:
                    finish = choice.finish_reason
    raise _Incomplete("the upstream stream ended before [DONE]")


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
