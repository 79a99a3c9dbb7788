"""Gateway mode (``tokenwire gateway --upstream URL``): seed 003's API gateway.

    POST /api/ai/chat-image-stream  -> upstream POST /api/v1/chat-image-stream (SSE)
    POST /api/ai/chat-image         -> upstream POST /api/v1/chat-image
    GET  /healthz

What the seed's gateway does, and this one too:

* validates the payload: larger than ``gateway_max_payload_bytes`` (3 MB) is a 413, a body
  that is not the seed's request a 400 (an empty prompt too), an image that is not base64
  or not an image a 422, each as ``{"type":"error","error"}``: an SSE ``data:`` line on the
  streaming route (the seed's Swift client reads nothing else, and the engine's refusals
  there are SSE too), a JSON body on the other;
* forwards the upstream SSE bytes as they arrive, without buffering (each chunk is written
  the moment it is read);
* closes the upstream request when the client disconnects (the engine behind keeps the
  reply: a disconnect is not a stop);
* falls back to the non-streaming endpoint when the stream fails before its first event
  (no connection, a 5xx, a stream that ends or sends ``error`` first), and sends the whole
  reply as ``start``, one ``content``, ``end``: the client's parser needs no second path.

The client's ``Authorization`` header is passed to the engine, which authenticates it: the
gateway holds no credentials. Upstream 4xx answers (401, 400, 413) are passed through.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from tokenwire.errors import PayloadTooLarge, TokenwireError
from tokenwire.protocol import sse
from tokenwire.protocol.dialects import chat_image as wire
from tokenwire.protocol.dialects.timestamps import utc_now
from tokenwire.protocol.sse import SSEDecoder
from tokenwire.settings import Settings
from tokenwire.tasks import first_completed

log = logging.getLogger("tokenwire.gateway")

STREAM_PATH = "/api/v1/chat-image-stream"
WHOLE_PATH = "/api/v1/chat-image"
SSE_HEADERS = sse.response_headers()


class StreamFailed(Exception):
    """The upstream stream failed before its first event: time for the fallback."""


def _error(exc: TokenwireError) -> Response:
    return Response(wire.refusal(exc), status_code=exc.status, media_type="application/json")


def _error_event(exc: TokenwireError) -> Response:
    """A refusal on the streaming route: the status, and the seed's ``error`` event."""
    headers = dict(sse.HEADERS)
    return Response(wire.refusal_event(exc), exc.status, headers, media_type=sse.CONTENT_TYPE)


def _forward_headers(request: Request) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if auth := request.headers.get("authorization"):
        headers["authorization"] = auth
    return headers


async def _read_payload(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it is known to be over ``limit`` (seed 003: 3MB max)."""
    declared = request.headers.get("content-length")
    too_large = PayloadTooLarge(f"payload exceeds the {limit // (1024 * 1024)} MB limit")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    wire.parse_request(bytes(body))  # a 400 here rather than a round trip upstream
    return bytes(body)


class Upstream:
    """The engine behind the gateway."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        timeout = httpx.Timeout(timeout_s, connect=10.0)
        self.client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)

    async def open_stream(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """The upstream stream response, not yet read. ``StreamFailed`` for a connection
        error or a 5xx; a 4xx response is returned for the caller to pass on."""
        request = self.client.build_request(
            "POST", STREAM_PATH, content=body, headers={**headers, "accept": "text/event-stream"}
        )
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise StreamFailed(f"cannot reach the engine: {exc!r}") from exc
        if response.status_code >= 500:
            await response.aclose()
            raise StreamFailed(f"the engine answered {response.status_code}")
        return response

    async def whole(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.client.post(WHOLE_PATH, content=body, headers=headers)


async def _first_event(chunks: AsyncIterator[bytes]) -> bytes:
    """Read until the first complete event and return every byte read so far; raise
    ``StreamFailed`` when the stream ends, breaks or starts with ``error`` first."""
    decoder = SSEDecoder()
    buffered = bytearray()
    try:
        async for chunk in chunks:
            buffered += chunk
            events = decoder.feed(chunk)
            if events:
                failure = wire.first_event_failed(events[0].data)
                if failure is not None:
                    raise StreamFailed(f"the stream began with an error: {failure}")
                return bytes(buffered)
    except httpx.HTTPError as exc:
        raise StreamFailed(f"the stream broke before its first event: {exc!r}") from exc
    raise StreamFailed("the stream ended before its first event")


class ProxiedStream(Response):
    """An ASGI response: the upstream SSE, then its bytes as they come; the first of the pump
    and the disconnect listener to finish ends the other, closing the upstream request."""

    media_type = "text/event-stream"

    def __init__(self, upstream: Upstream, body: bytes, headers: dict[str, str]) -> None:
        self._upstream = upstream
        self._body = body
        self._forward = headers
        self.status_code = 200
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def pump() -> None:
            try:
                await self._pump(send)
            except Exception:
                log.exception("proxied stream failed")

        await first_completed(pump, lambda: self._listen(receive))

    @staticmethod
    async def _listen(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def _start(self, send: Send, status: int = 200) -> None:
        await send({"type": "http.response.start", "status": status, "headers": SSE_HEADERS})

    async def _write(self, send: Send, body: bytes, *, more: bool = True) -> None:
        await send({"type": "http.response.body", "body": body, "more_body": more})

    async def _pump(self, send: Send) -> None:
        try:
            response = await self._upstream.open_stream(self._body, self._forward)
        except StreamFailed as exc:
            await self._fallback(send, str(exc))
            return
        try:
            if response.status_code != 200:
                # Passed on as an SSE error event whatever its body was (a limit's 429 is
                # JSON): the seed's client reads only ``data:`` lines.
                await response.aread()
                await self._start(send, response.status_code)
                await self._write(send, _as_error_event(response), more=False)
                return
            chunks = response.aiter_raw()
            try:
                head = await _first_event(chunks)
            except StreamFailed as exc:
                await response.aclose()
                await self._fallback(send, str(exc))
                return
            await self._start(send)
            await self._write(send, head)
            try:
                async for chunk in chunks:
                    await self._write(send, chunk)
            except httpx.HTTPError as exc:
                log.warning("upstream stream broke mid-reply: %r", exc)
                await self._write(send, wire.error_event("the stream from the engine broke"))
            await self._write(send, b"", more=False)
        finally:
            await response.aclose()  # also when cancelled: the client went away

    async def _fallback(self, send: Send, why: str) -> None:
        log.warning("stream failed before its first event (%s); using %s", why, WHOLE_PATH)
        try:
            response = await self._upstream.whole(self._body, self._forward)
        except httpx.HTTPError as exc:
            await self._start(send, 502)
            await self._write(
                send, wire.error_event(f"the engine is unreachable: {exc}"), more=False
            )
            return
        if response.status_code != 200:
            await self._start(send, response.status_code)
            await self._write(send, _as_error_event(response), more=False)
            return
        result = wire.decode_result(response.content)
        await self._start(send)
        await self._write(send, wire.result_events(result, utc_now()), more=False)


def _as_error_event(response: httpx.Response) -> bytes:
    """An upstream refusal as the seed's ``error`` event: an SSE body as it is, a JSON one
    (the seed's ``{"type":"error","error"}`` or tokenwire's ``{"error":{"message"}}``) by its
    message."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return response.content
    try:
        error = response.json().get("error", response.text)
    except (ValueError, AttributeError):
        error = response.text or f"the engine answered {response.status_code}"
    message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
    return wire.error_event(message)


def create_gateway(settings: Settings | None = None, *, upstream: str | None = None) -> FastAPI:
    """The gateway app, proxying to ``upstream`` (default ``settings.gateway_upstream``)."""
    settings = settings or Settings()
    base_url = upstream or settings.gateway_upstream
    if not base_url:
        raise ValueError(
            "the gateway needs an upstream URL (--upstream or TOKENWIRE_GATEWAY_UPSTREAM)"
        )
    limit = settings.gateway_max_payload_bytes

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.upstream = Upstream(base_url, settings.gateway_timeout_s)
        try:
            yield
        finally:
            await app.state.upstream.client.aclose()

    app = FastAPI(title="tokenwire gateway", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "upstream": base_url}

    @app.post("/api/ai/chat-image-stream", response_model=None)
    async def chat_image_stream(request: Request) -> Response | ProxiedStream:
        try:
            body = await _read_payload(request, limit)
        except TokenwireError as exc:
            return _error_event(exc)
        return ProxiedStream(request.app.state.upstream, body, _forward_headers(request))

    @app.post("/api/ai/chat-image")
    async def chat_image(request: Request) -> Response:
        try:
            body = await _read_payload(request, limit)
        except TokenwireError as exc:
            return _error(exc)
        try:
            response = await request.app.state.upstream.whole(body, _forward_headers(request))
        except httpx.HTTPError as exc:
            return JSONResponse(
                {"type": "error", "error": f"the engine is unreachable: {exc}"}, 502
            )
        media = response.headers.get("content-type", "application/json")
        return Response(response.content, status_code=response.status_code, media_type=media)

    return app
