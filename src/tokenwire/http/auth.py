"""The bearer token of a request."""

from __future__ import annotations

from starlette.requests import HTTPConnection

__all__ = ["bearer_token"]


def bearer_token(conn: HTTPConnection) -> str | None:
    """The token from ``Authorization: Bearer``, or from ``?token=`` where a client cannot set
    headers (browser WebSocket and EventSource)."""
    header = conn.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    return conn.query_params.get("token") or None
