"""Real PostgreSQL and Redis for the tests, never mocks of them.

``TOKENWIRE_TEST_DATABASE_URL`` (a ``postgresql+asyncpg://`` URL whose user may create
databases) and ``TOKENWIRE_TEST_REDIS_URL`` name servers to use. Without them, throwaway
servers are started here on free ports (``redis-server``; ``initdb`` and ``pg_ctl``, as the
``postgres`` user when the tests run as root, since PostgreSQL refuses to run as root) and
removed afterwards. Each test gets its own database (``CREATE DATABASE``) and its own Redis key
prefix, so tests never see each other's data, even on a Redis shared with other work.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis

from tests.helpers.server import free_port

DATABASE_ENV = "TOKENWIRE_TEST_DATABASE_URL"
REDIS_ENV = "TOKENWIRE_TEST_REDIS_URL"


def _tool(name: str) -> str:
    """A PostgreSQL program: on PATH, else where Debian's packages put it."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(f"{name} not found: install PostgreSQL or set {DATABASE_ENV}")
    return found


class ThrowawayRedis:
    """``redis-server`` on a free port, keeping nothing on disk; or, ``persistent``, with an
    append-only file fsynced every second (Redis's default durability), which a restart
    reads back."""

    def __init__(self, port: int | None = None, *, persistent: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tokenwire-redis-"))
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.persistent = persistent
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError(f"redis-server not found: install Redis or set {REDIS_ENV}")
        durability = ("--appendonly", "yes") if self.persistent else ("--appendonly", "no")
        proc = subprocess.Popen(
            [
                exe,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", *durability, "--dir", str(self.dir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except (redis.ConnectionError, redis.BusyLoadingError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    shutil.rmtree(self.dir, ignore_errors=True)
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
            finally:
                client.close()
        return proc

    def crash(self) -> None:
        """``kill -9``: what a persistent server had not fsynced yet is lost."""
        self.proc.kill()
        self.proc.wait()

    def restart(self) -> None:
        """Start again on the same port: empty, or from its files when ``persistent``."""
        if self.proc.poll() is None:
            self.crash()
        self.proc = self._spawn()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class ThrowawayPostgres:
    """A fresh cluster (``initdb``) started with ``pg_ctl`` on a free port, trust auth."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tokenwire-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        # PostgreSQL will not run as root: then the files and the server belong to `postgres`.
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    f"running as root needs a 'postgres' user for a throwaway server, "
                    f"or set {DATABASE_ENV}"
                ) from None
            self.user = "postgres"
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self._run(
            [
                _tool("initdb"),
                *("-D", str(self.data), "-U", "postgres", "--auth=trust"),
                *("-E", "UTF8", "--no-sync", "--locale=C"),
            ]
        )
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._options = options
        self.start()

    def start(self) -> None:
        """Start the server (again, after ``halt``: same port, same data)."""
        self._run(
            [
                _tool("pg_ctl"),
                *("-D", str(self.data), "-l", str(self.dir / "log"), "-o", self._options),
                *("-w", "-t", "60", "start"),
            ]
        )

    def halt(self) -> None:
        """Stop the server, keeping its data (``fast``: open connections are cut)."""
        self._run([_tool("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def _run(self, argv: list[str]) -> None:
        out = subprocess.run(argv, user=self.user, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{out.stdout}\n{out.stderr}")

    def stop(self) -> None:
        subprocess.run(
            [_tool("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            user=self.user,
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


def _dsn(url: str) -> str:
    """The asyncpg form of a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(_dsn(url), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(server_url: str) -> str:
    """A new, empty database on the server of ``server_url``; its URL."""
    name = "tokenwire_test_" + uuid.uuid4().hex[:12]
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    return with_database(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def redis_prefix() -> str:
    """A key prefix of one test's own: nothing it writes or publishes meets another's."""
    return f"tokenwire-test:{uuid.uuid4().hex[:12]}:"
