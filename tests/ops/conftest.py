"""Servers for the operations tests: real ``tokenwire serve`` processes on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.server import Server, start_server
from tests.ops.scrape import METRICS_TOKEN


@pytest.fixture(scope="package")
def ops_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Default limits, a metrics secret, the scripted model (3 words every 20 ms)."""
    server = start_server(
        tmp_path_factory.mktemp("ops"), {"TOKENWIRE_METRICS_TOKEN": METRICS_TOKEN}
    )
    yield server
    server.stop()
