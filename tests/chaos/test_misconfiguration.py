"""Two deployments on one database without a shared Redis: each takes the other's running
replies for orphans and ends them. A misconfiguration, but the server must still never tell
a client an end other than the one it stored."""

from __future__ import annotations

import os
from pathlib import Path

from tests.helpers.followers import SSEFollower, stored_reply
from tests.helpers.server import start_server
from tests.helpers.services import redis_prefix

LONG = " ".join(f"word{i}" for i in range(150))


def test_a_reply_ended_elsewhere_ends_its_clients_as_stored(
    tmp_path: Path, postgres_url: str, redis_server: str
) -> None:
    token = "tw_test_" + os.urandom(8).hex()
    common = {
        "TOKENWIRE_DATABASE_URL": postgres_url,
        "TOKENWIRE_REDIS_URL": redis_server,
        "TOKENWIRE_TOKEN": token,
        "TOKENWIRE_LEASE_TTL_S": "1.0",
        "TOKENWIRE_SWEEP_INTERVAL_S": "0.2",
        "TOKENWIRE_SCRIPTED_DELAY_MS": "40",
        "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "1",
    }
    # Different prefixes: as good as two Redis servers, so neither sees the other's leases.
    a = start_server(tmp_path / "a", {**common, "TOKENWIRE_REDIS_PREFIX": redis_prefix()})
    b = start_server(tmp_path / "b", {**common, "TOKENWIRE_REDIS_PREFIX": redis_prefix()})
    try:
        with a.client() as client:
            cid = client.post("/api/v1/conversations", json={}).json()["id"]
            response = client.post(
                f"/api/v1/conversations/{cid}/messages",
                params={"wait": "false"},
                json={"content": LONG},
            )
            mid = response.json()["assistant_message"]["id"]
        follower = SSEFollower(a, mid).start()
        assert follower.join(120), "the follower did not end"
        stored = stored_reply(a, follower)
        # b ended the row while a still ran the reply: a's client hears b's ending.
        assert stored["status"] == "interrupted"
        assert follower.outcome == "error:interrupted", follower.problem
    finally:
        a.stop()
        b.stop()
