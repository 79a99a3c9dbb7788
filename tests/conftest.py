from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.server import Server, start_server

ServerFactory = Callable[..., Server]


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
