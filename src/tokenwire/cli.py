"""The ``tokenwire`` command: ``serve``, ``users create``, ``db upgrade``."""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import sys
from typing import Annotated, Any

import typer

from tokenwire.settings import LOCAL_USER, Settings, is_loopback

app = typer.Typer(help="tokenwire: AI chat replies streamed token by token.", no_args_is_help=True)
users_app = typer.Typer(help="Manage users and their tokens.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(db_app, name="db")


def local_token(settings: Settings) -> str:
    """The login token of the local user: ``TOKENWIRE_TOKEN``, else one made once and kept
    (mode 0600) in the data dir, so the printed URL stays valid across restarts."""
    if settings.token:
        return settings.token
    path = settings.data_dir / "token"
    if path.is_file():
        return path.read_text().strip()
    token = "tw_" + secrets.token_urlsafe(32)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token


async def _prepare(settings: Settings, token: str) -> None:
    from sqlalchemy.exc import IntegrityError

    from tokenwire.store import SQLStore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SQLStore(settings.resolved_database_url)
    try:
        await store.migrate()
        user = await store.user_by_name(LOCAL_USER)
        if user is None:
            try:
                await store.create_user(LOCAL_USER, token)
                return
            except IntegrityError:  # another instance, starting at the same moment, made it
                user = await store.user_by_name(LOCAL_USER)
                assert user is not None
        await store.set_token(user.id, token)
    finally:
        await store.close()


def _server_class() -> Any:
    import uvicorn
    from fastapi import FastAPI

    class Server(uvicorn.Server):
        """Drains replies before uvicorn waits on open connections: streams still open then
        receive their reply's end (or ``interrupted``) and close by themselves. Once it
        listens it records where (``runfile``), for ``tokenwire chat``."""

        def __init__(self, config: uvicorn.Config, *, app: FastAPI, settings: Settings) -> None:
            super().__init__(config)
            self.fastapi_app = app  # the app this command built, whatever wraps it
            self.settings = settings

        async def startup(self, sockets: Any = None) -> None:
            from tokenwire import runfile
            from tokenwire.ops import heap

            await super().startup(sockets=sockets)
            if self.should_exit or not self.servers:
                return
            heap.settle()  # the startup's objects frozen, the young collected less often
            port = self.servers[0].sockets[0].getsockname()[1]
            host = self.settings.host
            shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            runfile.record(self.settings.data_dir, f"http://{shown}:{port}")

        async def shutdown(self, sockets: Any = None) -> None:
            from tokenwire import runfile

            runfile.clear(self.settings.data_dir)
            grace = self.settings.shutdown_grace_s
            typer.echo(
                f"tokenwire: stopping; replies still streaming get up to {grace:g}s to finish",
                err=True,
            )
            engine = getattr(self.fastapi_app.state, "engine", None)
            if engine is not None:
                await engine.shutdown()
            await super().shutdown(sockets=sockets)
            typer.echo("tokenwire: stopped", err=True)

    return Server


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    cors: Annotated[
        list[str] | None,
        typer.Option(
            "--cors",
            metavar="ORIGIN",
            help="Let browser pages of ORIGIN call the API (repeatable; * for any), "
            "added to TOKENWIRE_CORS_ORIGINS.",
        ),
    ] = None,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="Serve the local user without a token. Loopback addresses only: anyone "
            "who can reach the port is that user.",
        ),
    ] = False,
) -> None:
    """Start the server and print the login URL."""
    gc.disable()  # until the server listens (``ops/heap.py``: ``settle`` turns it on)
    import uvicorn

    from tokenwire.api import create_app
    from tokenwire.api.websocket_protocol import WebSocketProtocol
    from tokenwire.ops.logs import configure_logging
    from tokenwire.store.lock import DatabaseInUse, DatabaseLock

    settings = Settings()
    configure_logging(settings)
    if host is not None:
        settings.host = host
    if port is not None:
        settings.port = port
    for origin in cors or []:
        if origin not in settings.cors_origins:
            settings.cors_origins.append(origin)
    settings.no_auth = settings.no_auth or no_auth
    if settings.no_auth and not is_loopback(settings.host):
        typer.echo(
            f"tokenwire: --no-auth serves anyone who can connect; it listens on loopback "
            f"addresses only (127.0.0.1, ::1, localhost), not {settings.host}",
            err=True,
        )
        raise typer.Exit(2)
    lock = DatabaseLock.for_url(settings.resolved_database_url)
    if lock is not None:
        try:
            lock.acquire()  # held until this process ends
        except DatabaseInUse as exc:
            typer.echo(f"tokenwire: {exc}", err=True)
            raise typer.Exit(1) from None
    token = local_token(settings)
    asyncio.run(_prepare(settings, token))
    fastapi_app = create_app(settings)
    config = uvicorn.Config(
        fastapi_app,
        host=settings.host,
        port=settings.port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http="httptools",
        ws=WebSocketProtocol,  # uvicorn's websockets-sansio, quiet about refused handshakes
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 5,
        log_level=settings.log_level,
        log_config=None,  # configure_logging's handler and format, for uvicorn's lines too
        access_log=False,  # tokenwire.http logs each request, with more in it
    )
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    # The whole chain: with TOKENWIRE_PROVIDERS=openai,llama a reply may come from either.
    chain = ", then ".join(settings.provider_chain)
    typer.echo(f"tokenwire: {chain} model, {settings.resolved_database_url}", err=True)
    # The login URL, like Jupyter's, alone on stdout so that scripts can take it from there.
    if settings.no_auth:
        typer.echo("tokenwire: --no-auth: requests without a token are the local user's", err=True)
        typer.echo(f"http://{shown}:{settings.port}/")
    else:
        typer.echo(f"http://{shown}:{settings.port}/?token={token}")
    _server_class()(config, app=fastapi_app, settings=settings).run()


@app.command()
def gateway(
    upstream: Annotated[
        str | None, typer.Option(help="The engine's base URL (TOKENWIRE_GATEWAY_UPSTREAM).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 3000).")] = None,
) -> None:
    """Serve /api/ai/chat-image[-stream] by proxying to an engine (seed 003's gateway)."""
    gc.disable()  # as ``serve`` does
    import uvicorn

    from tokenwire.gateway import create_gateway
    from tokenwire.ops import heap

    class Gateway(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if not self.should_exit and self.servers:
                heap.settle()  # as ``serve`` does: it relays streams too

    settings = Settings()
    target = upstream or settings.gateway_upstream
    if not target:
        raise typer.BadParameter("give --upstream URL (or TOKENWIRE_GATEWAY_UPSTREAM)")
    listen_port = port or settings.gateway_port
    typer.echo(f"tokenwire gateway on {host or settings.host}:{listen_port} -> {target}", err=True)
    config = uvicorn.Config(
        create_gateway(settings, upstream=target),
        host=host or settings.host,
        port=listen_port,
        http="httptools",
        lifespan="on",
        log_level="info",
    )
    Gateway(config).run()


@app.command()
def chat(
    url: Annotated[
        str | None, typer.Option(help="Server URL (default: the one `serve` runs here).")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="Bearer token (default: TOKENWIRE_TOKEN, or serve's).")
    ] = None,
    conversation: Annotated[str | None, typer.Option(help="Conversation id to open.")] = None,
    persona: Annotated[str | None, typer.Option(help="Persona of new conversations.")] = None,
) -> None:
    """Chat in the terminal: replies stream in, Ctrl-C stops one (docs/client.md)."""
    from tokenwire.chat import run

    run(url=url, token=token, conversation=conversation, persona=persona)


@users_app.command("create")
def users_create(name: str) -> None:
    """Create a user; the new token is the last line printed (only its hash is stored)."""
    from tokenwire.store import SQLStore

    async def create() -> str:
        settings = Settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = SQLStore(settings.resolved_database_url)
        try:
            await store.migrate()
            if await store.user_by_name(name) is not None:
                raise typer.BadParameter(f"user {name!r} exists already")
            _, token = await store.create_user(name)
            return token
        finally:
            await store.close()

    token = asyncio.run(create())
    typer.echo(f"created user {name}; their token (shown once):")
    typer.echo(token)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations up to the newest one."""
    from tokenwire.store import SQLStore

    async def upgrade() -> None:
        settings = Settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = SQLStore(settings.resolved_database_url)
        try:
            await store.migrate()
        finally:
            await store.close()

    asyncio.run(upgrade())
    typer.echo("database is up to date")


def main() -> None:
    app()


__all__ = ["main"]
