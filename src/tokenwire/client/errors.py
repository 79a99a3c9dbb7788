"""The client's one exception tree, and the one place third-party errors become it.

    ClientError                     retryable: whether the same call may succeed later
    ├── APIError                    the server answered with its error envelope
    │   ├── AuthenticationError     401, after the refresh callback (if any) did not help
    │   └── NotFoundError           404: unknown or another user's conversation or message
    ├── ConnectionFailed            the network failed: refused, reset, cut mid-stream
    │   └── TransportRefused        something between us and the server refused a transport
    │                               (a proxy answering 403 to a WebSocket upgrade): use another
    └── ProtocolError               the server sent something this client cannot read

A reply that ends badly (``message.error``) is not an exception: it is a ``Reply`` whose
``error`` says what happened and whether retrying may help.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import websockets.exceptions as ws_errors

# Error codes the server uses for "try again later" (errors.py on the server: 429, 503).
_RETRYABLE_CODES = frozenset({"rate_limited", "unavailable"})
_STATUS_OF_CODE = {"unauthorized": 401, "not_found": 404, "rate_limited": 429, "unavailable": 503}


class ClientError(Exception):
    """Root of every error the client raises."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable


class APIError(ClientError):
    """The server refused a request and said why (``{"error": {"code", "message"}}``)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            f"{status} {code}: {message}",
            retryable=code in _RETRYABLE_CODES if retryable is None else retryable,
        )
        self.status = status
        self.code = code
        self.detail = message
        self.retry_after = retry_after


class AuthenticationError(APIError):
    """The token was refused, and refreshing it (when a callback was given) did not help."""


class NotFoundError(APIError):
    """No such conversation or message for this user."""


class ConnectionFailed(ClientError):
    """The connection failed. ``reachable`` is False when the server could not be reached at
    all (nothing listening, DNS, connect timeout) and True when a connection was cut."""

    retryable = True

    def __init__(self, message: str, *, reachable: bool = True) -> None:
        super().__init__(message)
        self.reachable = reachable


class TransportRefused(ConnectionFailed):
    """A response that did not come from the server refused this transport: the client
    should use another one for a while."""


class ProtocolError(ClientError):
    """The server's answer could not be understood."""


def api_error(
    status: int, code: str, message: str, *, retry_after: float | None = None
) -> APIError:
    """The ``APIError`` subclass that fits ``status``."""
    cls: type[APIError] = APIError
    if status == 401:
        cls = AuthenticationError
    elif status == 404:
        cls = NotFoundError
    return cls(status, code, message, retry_after=retry_after)


def from_frame(error: dict[str, Any]) -> APIError:
    """An ``error`` WebSocket frame's ``{"code", "message"}`` as an exception."""
    code = str(error.get("code", "error"))
    return api_error(_STATUS_OF_CODE.get(code, 400), code, str(error.get("message", "")))


def from_response(status: int, body: bytes, headers: httpx.Headers | None = None) -> ClientError:
    """The error an HTTP answer stands for. Only the server's own envelope makes an
    ``APIError``: any other answer (an HTML 403 page, an empty 502) came from something in
    between, which refused the transport rather than the request."""
    try:
        envelope = msgspec.json.decode(body)
    except msgspec.DecodeError:
        envelope = None
    error = envelope.get("error") if isinstance(envelope, dict) else None
    if not isinstance(error, dict) or "code" not in error:
        return TransportRefused(f"HTTP {status} from something other than the server")
    retry_after: float | None = None
    if headers is not None and (value := headers.get("retry-after")):
        with contextlib.suppress(ValueError):
            retry_after = float(value)
    return api_error(
        status, str(error["code"]), str(error.get("message", "")), retry_after=retry_after
    )


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn httpx, websockets and socket errors raised inside the block into ``ClientError``:
    the one place where third-party exceptions are mapped."""
    try:
        yield
    except ClientError:
        raise
    except (httpx.ConnectError, httpx.ConnectTimeout, ConnectionRefusedError) as exc:
        raise ConnectionFailed(f"cannot reach the server: {exc}", reachable=False) from exc
    except ws_errors.InvalidStatus as exc:
        response = exc.response
        raise from_response(response.status_code, bytes(response.body or b"")) from exc
    except (
        httpx.TransportError,
        ws_errors.WebSocketException,
        OSError,
        EOFError,
        TimeoutError,
    ) as exc:
        raise ConnectionFailed(f"connection lost: {exc!r}") from exc
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"unreadable answer from the server: {exc}") from exc
