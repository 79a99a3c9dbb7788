"""Several real ``tokenwire serve`` processes sharing one PostgreSQL database and one Redis."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.server import Server, start_server

Deployment = Callable[..., list[Server]]

# Small enough that a dead instance's replies are taken over within about a second.
FAST_TAKEOVER = {"lease_ttl_s": 1.0, "sweep_interval_s": 0.2}


@pytest.fixture
def deployment(
    tmp_path: Path, postgres_url: str, redis_server: str, redis_prefix: str
) -> Iterator[Deployment]:
    """``deployment(count, **settings)`` starts ``count`` more instances of one deployment:
    one database, one Redis prefix, one local user token; each keyword is a setting."""
    started: list[Server] = []
    token = "tw_test_" + os.urandom(8).hex()

    def start(count: int = 2, **settings: object) -> list[Server]:
        env = {
            "TOKENWIRE_DATABASE_URL": postgres_url,
            "TOKENWIRE_REDIS_URL": redis_server,
            "TOKENWIRE_REDIS_PREFIX": redis_prefix,
            "TOKENWIRE_TOKEN": token,
            **{f"TOKENWIRE_{k.upper()}": str(v) for k, v in {**FAST_TAKEOVER, **settings}.items()},
        }
        servers = []
        for _ in range(count):
            # One after the other: each start also sets the shared local user's token.
            server = start_server(tmp_path / f"instance{len(started)}", env)
            server.token = token  # the shared one, which the environment gave it
            started.append(server)
            servers.append(server)
        return servers

    yield start
    for server in started:
        server.stop(signal.SIGKILL if server.proc.poll() is None else signal.SIGTERM, timeout=10)
