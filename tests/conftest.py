from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import services
from tests.helpers.server import Server, start_server

ServerFactory = Callable[..., Server]

# The suite runs in one process per core (pytest-xdist's ``-n auto``, in pyproject.toml), each
# test file whole in one of them (``--dist loadfile``: a file's servers start once). Each
# process starts its own throwaway PostgreSQL and Redis when none is given, and most tests
# run a server process of their own: more than four workers adds more startup than it saves.
MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start real servers; each keyword becomes a ``TOKENWIRE_*`` setting."""
    started: list[Server] = []

    def start(data_dir: Path | None = None, **settings: object) -> Server:
        env = {f"TOKENWIRE_{k.upper()}": str(v) for k, v in settings.items()}
        server = start_server(data_dir or tmp_path / f"data{len(started)}", env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGKILL if server.proc.poll() is None else signal.SIGTERM, timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One shared server with the scripted model (3 words every 20 ms)."""
    srv = start_server(tmp_path_factory.mktemp("server"))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server (the URL of a database on it whose user may create databases):
    ``TOKENWIRE_TEST_DATABASE_URL``, else a throwaway cluster for this test session."""
    url = os.environ.get(services.DATABASE_ENV)
    if url:
        yield url
        return
    server = services.ThrowawayPostgres()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A Redis URL: ``TOKENWIRE_TEST_REDIS_URL``, else a throwaway ``redis-server``."""
    url = os.environ.get(services.REDIS_ENV)
    if url:
        yield url
        return
    server = services.ThrowawayRedis()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    url = services.create_database(postgres_server)
    yield url
    services.drop_database(postgres_server, url)


@pytest.fixture
def redis_prefix() -> str:
    """The ``TOKENWIRE_REDIS_PREFIX`` of one test: its keys and channels are its own."""
    return services.redis_prefix()
