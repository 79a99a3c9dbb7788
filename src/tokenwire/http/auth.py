"""The credentials of a request: a bearer token, or a browser session's cookie."""

from __future__ import annotations

from starlette.requests import HTTPConnection

__all__ = ["SESSION_COOKIE", "bearer_token", "session_secret"]

# HttpOnly, SameSite=Strict; set by POST /api/v1/session (api/signin.py).
SESSION_COOKIE = "tokenwire_session"


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


def session_secret(conn: HTTPConnection) -> str | None:
    """The secret of the browser session cookie, if the request carries one."""
    return conn.cookies.get(SESSION_COOKIE) or None
