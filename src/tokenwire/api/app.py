"""The application factory: wires settings, store, event log, provider and engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from tokenwire import __version__
from tokenwire.api import (
    conversations,
    errors,
    exports,
    health,
    messages,
    ops,
    personas,
    replies,
    search,
    signin,
    ws,
)
from tokenwire.api import resources as api_resources
from tokenwire.api.dialects import (
    chat_image,
    consultation,
    message_stream,
    openai_chat,
    sessions,
    vercel,
)
from tokenwire.api.limits import BodyLimit
from tokenwire.engine import Engine
from tokenwire.engine.cluster import create_cluster
from tokenwire.engine.config import EngineConfig
from tokenwire.log.factory import create_event_log
from tokenwire.ops import Operations
from tokenwire.personas import Personas
from tokenwire.providers import create_provider
from tokenwire.settings import Settings
from tokenwire.store import SQLStore


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    operations = Operations(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = SQLStore(settings.resolved_database_url)
        await store.migrate()
        events = create_event_log(settings)
        provider = create_provider(settings)
        operations.watch(provider)
        app.state.personas = Personas.from_settings(settings)
        engine = Engine(
            config=EngineConfig.from_settings(settings),
            store=store,
            events=events,
            provider=provider,
            personas=app.state.personas,
            hooks=operations.hooks,
            admission=operations.limiter,
            cluster=create_cluster(settings, events),
        )
        app.state.settings = settings
        app.state.store = store
        app.state.engine = engine
        await operations.start()
        await engine.start()
        try:
            yield
        finally:
            await engine.shutdown()
            await operations.close()
            await provider.aclose()
            await events.close()
            await store.close()

    app = FastAPI(
        title="tokenwire",
        version=__version__,
        summary="AI chat replies, token by token, to any client; every conversation kept.",
        lifespan=lifespan,
        # The schema is served; FastAPI's docs pages are not: they load their scripts from a
        # CDN, which neither an offline laptop nor the page's CSP (script-src 'self') allows.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.ops = operations
    errors.install(app)
    api_resources.install(app)
    # FastAPI tries the routers in order and each router's routes in turn, a few µs a
    # route: a request for a late router was matched against every route before it (60-80
    # µs for /v1/chat/completions, the sixteenth entry, `benchmarks/routing.py`). The routes
    # replies take come first. No two routes of different routers answer the same request
    # (`tests/api/test_routes.py`), so the order decides only how soon the match is found.
    for router in (
        messages.router,
        openai_chat.router,
        ws.router,
        replies.router,
        vercel.router,
        message_stream.router,
        sessions.router,
        chat_image.router,
        consultation.router,
        exports.router,  # before conversations: a 405 for /conversations/import names POST
        conversations.router,
        search.router,
        personas.router,
        signin.router,
        ops.router,
        health.router,
    ):
        app.include_router(router)
    operations.install_limits(app)  # inside CORS, so that browsers can read a 429
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)  # and a 413
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID"],
        )
    operations.install_observers(app)  # outermost: they see every answer
    static = resources.files("tokenwire") / "static"
    if static.joinpath("index.html").is_file():
        app.mount("/", StaticFiles(directory=str(static), html=True), name="page")
    return app
