"""What routes receive: the services on ``app.state`` and the authenticated user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from tokenwire.api.tokens import TokenCache
from tokenwire.engine import Engine
from tokenwire.errors import Unauthorized
from tokenwire.http.auth import bearer_token
from tokenwire.settings import Settings
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


async def authenticate(conn: HTTPConnection) -> User:
    """The user behind the request's token; ``Unauthorized`` (401) when there is none."""
    token = bearer_token(conn)
    if token is None:
        raise Unauthorized("missing bearer token")
    cache: TokenCache | None = getattr(conn.app.state, "tokens", None)
    if cache is None:
        cache = conn.app.state.tokens = TokenCache(get_store(conn))
    user = await cache.user(token)
    if user is None:
        raise Unauthorized("invalid token")
    conn.state.user = user
    return user


async def current_user(request: Request) -> User:
    return await authenticate(request)


CurrentUser = Annotated[User, Depends(current_user)]
EngineDep = Annotated[Engine, Depends(get_engine)]
StoreDep = Annotated[SQLStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
