from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from tests.helpers.server import Server, start_server
from tokenwire.client import Backoff

# One word per delta, every 5 ms: replies with many events, quickly.
# Polling every 20 ms is far more than the per-user request limit allows a real client.
FAST = {
    "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "1",
    "TOKENWIRE_SCRIPTED_DELAY_MS": "5",
    "TOKENWIRE_REQUESTS_PER_MINUTE_PER_USER": "0",
    "TOKENWIRE_REQUESTS_PER_MINUTE_PER_IP": "0",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose scripted model echoes the message one word at a time."""
    srv = start_server(tmp_path_factory.mktemp("client-server"), FAST)
    yield srv
    srv.stop()


def quick_backoff(seed: int = 0) -> Backoff:
    """Short delays so that tests full of cuts stay fast; seeded for reproducible runs."""
    return Backoff(initial=0.02, max_delay=0.3, first_delay=0.01, rng=random.Random(seed))
