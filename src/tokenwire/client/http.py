"""HTTP requests to the server: the bearer token, one refresh on 401, errors translated.

Every request the client makes, plain or streaming, goes through ``RestAPI``; the
WebSocket handshake shares its ``Credentials``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import msgspec

from tokenwire.client.errors import from_response, translated

T = TypeVar("T")

TokenRefresher = Callable[[], Awaitable[str]]


class Credentials:
    """The bearer token, and the optional callback that gets a new one after a 401."""

    def __init__(self, token: str, refresh: TokenRefresher | None = None) -> None:
        self.token = token
        self._refresh = refresh
        self._lock = asyncio.Lock()

    async def renew(self, rejected: str) -> bool:
        """After ``rejected`` got a 401: True when there is a new token to retry with.

        Requests failing together call the callback once: whoever comes second finds the
        token already changed and just retries with it.
        """
        if self._refresh is None:
            return False
        async with self._lock:
            if self.token == rejected:
                self.token = await self._refresh()
        return True

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


class RestAPI:
    """JSON requests and SSE responses against one server."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        timeout: httpx.Timeout,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request; a 401 renews the token once and retries; errors raise."""
        for attempt in range(2):
            token = self.credentials.token
            with translated():
                response = await self._http.request(
                    method, path, json=json, params=params, headers=self.credentials.headers(token)
                )
            retry = response.status_code == 401 and attempt == 0
            if retry and await self.credentials.renew(token):
                continue
            if response.is_error:
                raise from_response(response.status_code, response.content, response.headers)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def call(
        self,
        method: str,
        path: str,
        into: type[T],
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> T:
        """``request``, with the JSON answer decoded into ``into``."""
        response = await self.request(method, path, json=json, params=params)
        with translated():
            return msgspec.json.decode(response.content, type=into)

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """An ``Accept: text/event-stream`` request whose body is read as it arrives."""
        for attempt in range(2):
            token = self.credentials.token
            headers = {**self.credentials.headers(token), "Accept": "text/event-stream"}
            request = self._http.build_request(
                method, path, json=json, params=params, headers=headers
            )
            with translated():
                response = await self._http.send(request, stream=True)
            try:
                retry = response.status_code == 401 and attempt == 0
                if retry and await self.credentials.renew(token):
                    continue
                if response.is_error:
                    with translated():
                        body = await response.aread()
                    raise from_response(response.status_code, body, response.headers)
                yield response
                return
            finally:
                await response.aclose()
        raise AssertionError("unreachable")  # pragma: no cover
