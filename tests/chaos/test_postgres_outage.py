"""PostgreSQL stopped and started again while a reply streams.

While it is down: HTTP requests that need it are 503 with ``Retry-After`` (a WebSocket
handshake too), an open socket answers a send with an error frame and stays usable, and the
reply streaming at that moment goes on but is not said to have ended until its end is
stored. Once PostgreSQL is back, every follower gets the end that the row has.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.helpers.followers import CanonicalSocketFollower, SSEFollower, stored_reply
from tests.helpers.hostile import soak
from tests.helpers.logs import faults
from tests.helpers.server import start_server
from tests.helpers.services import ThrowawayPostgres, redis_prefix

WORDS = 400 if soak() else 80
LONG = " ".join(f"word{i}" for i in range(WORDS))


@pytest.fixture
def postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres()  # a private one: this test stops it
    yield server
    server.stop()


@pytest.mark.parametrize("log", ["memory", "redis"])
def test_postgres_down_is_503_and_no_end_is_told_before_it_is_stored(
    tmp_path: Path, postgres: ThrowawayPostgres, log: str, request: pytest.FixtureRequest
) -> None:
    env = {
        "TOKENWIRE_DATABASE_URL": postgres.url,
        "TOKENWIRE_SCRIPTED_DELAY_MS": "25",
        "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "1",
    }
    if log == "redis":  # leases, sweeps and the log in Redis carry on through the outage
        env |= {
            "TOKENWIRE_REDIS_URL": request.getfixturevalue("redis_server"),
            "TOKENWIRE_REDIS_PREFIX": redis_prefix(),
            "TOKENWIRE_LEASE_TTL_S": "1.0",
            "TOKENWIRE_SWEEP_INTERVAL_S": "0.2",
        }
    server = start_server(tmp_path / "instance", env)
    try:
        with server.client() as client:
            cid = client.post("/api/v1/conversations", json={}).json()["id"]
            other = client.post("/api/v1/conversations", json={}).json()["id"]
        socket = CanonicalSocketFollower(server, cid, LONG).start()
        socket.wait_started()
        assert socket.reply_id is not None
        sse = SSEFollower(server, socket.reply_id).start()
        sse.wait_started()
        url = f"{server.ws_url}/api/v1/conversations/{other}/ws?token={server.token}"
        with connect(url) as open_socket:
            postgres.halt()
            with server.client() as client:
                for response in (
                    client.post("/api/v1/conversations", json={}),
                    client.get(f"/api/v1/conversations/{cid}/messages"),
                    client.post(f"/api/v1/conversations/{cid}/messages", json={"content": "x"}),
                    client.get(f"/api/v1/messages/{socket.reply_id}"),
                ):
                    assert response.status_code == 503, response.text
                    assert response.json()["error"]["code"] == "unavailable"
                    assert int(response.headers["Retry-After"]) > 0
            with pytest.raises(InvalidStatus) as refused:
                connect(url).close()
            assert refused.value.response.status_code == 503
            assert refused.value.response.headers["Retry-After"]
            # An open socket is told, and stays usable.
            open_socket.send(json.dumps({"type": "message.send", "content": "while down"}))
            error = json.loads(open_socket.recv(timeout=30))
            assert error["type"] == "error"
            assert error["error"]["code"] == "unavailable"
            open_socket.send('{"type":"ping"}')
            assert json.loads(open_socket.recv(timeout=30)) == {"type": "pong"}
            # The reply's words all come (25 ms each), but its end cannot be stored yet.
            time.sleep(WORDS * 0.025 + 2)
            assert socket.outcome is None
            assert sse.outcome is None
            postgres.start()
        for follower in (socket, sse):
            assert follower.join(30), f"{follower.name} did not end"
            assert follower.outcome == "end", follower.problem
            stored = stored_reply(server, follower)
            assert stored["status"] == "complete"
            assert stored["content"] == follower.text == LONG
        with server.client() as client:  # and everything works again
            again = client.post(f"/api/v1/conversations/{cid}/messages", json={"content": "back"})
            assert again.status_code == 201, again.text
            assert again.json()["assistant_message"]["content"] == "back"
        assert faults(server.log()) == []
    finally:
        server.stop()
