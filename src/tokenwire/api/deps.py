"""What routes receive: the services on ``app.state`` and the authenticated user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from tokenwire.api.tokens import TokenCache
from tokenwire.engine import Engine
from tokenwire.errors import Unauthorized
from tokenwire.http.auth import bearer_token, session_secret
from tokenwire.ops.security import origin_allowed, same_origin
from tokenwire.settings import LOCAL_USER, Settings
from tokenwire.store import SQLStore, User


def get_engine(conn: HTTPConnection) -> Engine:
    engine: Engine = conn.app.state.engine
    return engine


def get_store(conn: HTTPConnection) -> SQLStore:
    store: SQLStore = conn.app.state.store
    return store


def get_settings(conn: HTTPConnection) -> Settings:
    settings: Settings = conn.app.state.settings
    return settings


def get_tokens(conn: HTTPConnection) -> TokenCache:
    cache: TokenCache | None = getattr(conn.app.state, "tokens", None)
    if cache is None:
        cache = conn.app.state.tokens = TokenCache(get_store(conn))
    return cache


def cookie_allowed(conn: HTTPConnection) -> bool:
    """Whether this request may use the session cookie: from the page's own origin, or one
    that ``cors_origins`` names."""
    headers = conn.headers
    trusted = get_settings(conn).cors_origins or ()
    return same_origin(
        headers.get("origin"), headers.get("sec-fetch-site"), headers.get("host"), trusted
    )


async def authenticate(conn: HTTPConnection) -> User:
    """The user behind the request's bearer token or, from the page's own origin, its
    session cookie; ``Unauthorized`` (401) when there is none. A bearer token wins: API
    clients never depend on cookies."""
    token = bearer_token(conn)
    secret = session_secret(conn) if token is None else None
    if secret is not None:
        if not cookie_allowed(conn):
            raise Unauthorized("the session cookie is accepted only from this server's page")
        user = await get_tokens(conn).session_user(secret)
        if user is None:
            raise Unauthorized("the session has ended; sign in again")
    elif token is None and get_settings(conn).no_auth:
        return await _local_user(conn)
    elif token is None:
        raise Unauthorized("missing bearer token")
    else:
        user = await get_tokens(conn).user(token)
        if user is None:
            raise Unauthorized("invalid token")
    conn.state.user = user
    return user


async def _local_user(conn: HTTPConnection) -> User:
    """``--no-auth``: a request without a token is the local user's (the server listens on a
    loopback address only, so it is someone on this machine: Jupyter's ``--NotebookApp.token=''``
    trade). A request with a token is still checked."""
    # Without a token, the origin is the only guard: a page of a foreign origin must not act
    # as the local user (a form post needs no CORS preflight).
    origin = conn.headers.get("origin")
    if not origin_allowed(origin, conn.headers.get("host"), get_settings(conn).cors_origins):
        raise Unauthorized(f"--no-auth: requests from {origin} need a token")
    user: User | None = getattr(conn.app.state, "local_user", None)
    if user is None:
        user = await get_store(conn).user_by_name(LOCAL_USER)
        if user is None:
            raise Unauthorized(f"--no-auth: the user {LOCAL_USER!r} does not exist")
        conn.app.state.local_user = user
    conn.state.user = user
    return user


async def current_user(request: Request) -> User:
    return await authenticate(request)


# FastAPI runs a dependency declared with ``def`` in its thread pool: a trip to a worker
# thread and back on every request, here for an attribute's lookup. Declared ``async``, a
# dependency runs inline; every dependency of the API is.


async def _engine(conn: HTTPConnection) -> Engine:
    return get_engine(conn)


async def _store(conn: HTTPConnection) -> SQLStore:
    return get_store(conn)


async def _settings(conn: HTTPConnection) -> Settings:
    return get_settings(conn)


CurrentUser = Annotated[User, Depends(current_user)]
EngineDep = Annotated[Engine, Depends(_engine)]
StoreDep = Annotated[SQLStore, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
