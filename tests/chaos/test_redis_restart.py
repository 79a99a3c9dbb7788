"""Redis killed and restarted mid-reply, empty or from its append-only file.

Two instances on one PostgreSQL and a private Redis; replies stream to followers of every
wire (SSE on both instances, the canonical WebSocket, seed 000's and seed 004's sockets,
the OpenAI stream) when Redis is killed and started again. Whatever happens to each reply,
every follower must end within seconds, and every character it was shown must be in the
stored reply.
With ``TOKENWIRE_SOAK=1`` the kill comes again and again.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.helpers.followers import (
    CanonicalSocketFollower,
    ConsultationSocketFollower,
    Follower,
    MessageStreamFollower,
    OpenAIFollower,
    SSEFollower,
    stored_reply,
)
from tests.helpers.hostile import soak
from tests.helpers.logs import faults
from tests.helpers.server import Server, start_server
from tests.helpers.services import ThrowawayRedis, redis_prefix

LONG = " ".join(f"word{i}" for i in range(150))
ROUNDS = 5 if soak() else 1
ENDS_WITHIN_S = 30  # every follower's end, after Redis is back


def deployment(tmp_path: Path, postgres_url: str, redis: ThrowawayRedis) -> list[Server]:
    env = {
        "TOKENWIRE_DATABASE_URL": postgres_url,
        "TOKENWIRE_REDIS_URL": redis.url,
        "TOKENWIRE_REDIS_PREFIX": redis_prefix(),
        "TOKENWIRE_TOKEN": "tw_test_" + os.urandom(8).hex(),
        "TOKENWIRE_LEASE_TTL_S": "2.0",  # owners are alive here: no takeover is waited for
        "TOKENWIRE_SWEEP_INTERVAL_S": "0.2",
        "TOKENWIRE_SCRIPTED_DELAY_MS": "40",
        "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "1",
    }
    return [start_server(tmp_path / name, env) for name in ("a", "b")]


def followers_of_every_wire(a: Server, b: Server, round_: int) -> list[Follower]:
    with a.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        made = client.post("/api/v1/consultations", json={"persona": "general"}).json()
    if "data" in made:  # the app's envelope
        consultation_id = made["data"]["consultation"]["id"]
    else:  # a later round: the app goes on with the active one its 409 names
        consultation_id = made["error"]["details"]["existing_consultation_id"]
    socket = CanonicalSocketFollower(a, cid, LONG).start()
    socket.wait_started()
    assert socket.reply_id is not None
    followers: list[Follower] = [
        socket,
        SSEFollower(a, socket.reply_id).start(),
        SSEFollower(b, socket.reply_id).start(),
        ConsultationSocketFollower(b, consultation_id, LONG).start(),
        MessageStreamFollower(a, f"chaos-{round_}", LONG).start(),
        OpenAIFollower(b, f"{LONG} {round_}").start(),
    ]
    for follower in followers:
        follower.wait_started()
    return followers


def check(server: Server, followers: list[Follower]) -> list[str]:
    """What every follower must hold: an end, and text the stored reply starts with."""
    wrong = []
    for follower in followers:
        if not follower.join(ENDS_WITHIN_S):
            wrong.append(f"{follower.name}: no end within {ENDS_WITHIN_S} s")
            continue
        if follower.outcome is None:
            wrong.append(f"{follower.name}: {follower.problem}")
            continue
        stored = stored_reply(server, follower)
        if stored["status"] == "streaming":
            wrong.append(f"{follower.name}: the reply is still streaming")
        elif not stored["content"].startswith(follower.text):
            wrong.append(
                f"{follower.name}: shown {len(follower.text)} chars, stored "
                f"{len(stored['content'])} ({stored['status']}), not a prefix"
            )
        elif follower.outcome == "end" and stored["status"] != "complete":
            wrong.append(f"{follower.name}: told 'end', stored {stored['status']}")
        elif follower.outcome == "end" and stored["content"] != follower.text:
            wrong.append(f"{follower.name}: told 'end' with text other than the stored")
    return wrong


@pytest.mark.parametrize("persistent", [False, True], ids=["empty", "append-only-file"])
def test_redis_restarting_mid_reply_loses_nothing_shown_and_ends_every_follower(
    tmp_path: Path, postgres_url: str, persistent: bool
) -> None:
    redis = ThrowawayRedis(persistent=persistent)
    a, b = deployment(tmp_path, postgres_url, redis)
    try:
        for round_ in range(ROUNDS):
            followers = followers_of_every_wire(a, b, round_)
            time.sleep(0.5)  # a few more words on every wire
            redis.restart()
            wrong = check(a, followers)
            assert wrong == [], wrong
            print(
                f"round {round_}: "
                + ", ".join(f"{f.name} {f.outcome} {len(f.text)} chars" for f in followers)
            )
        for server in (a, b):
            assert faults(server.log()) == []
    finally:
        for server in (a, b):
            server.stop()
        redis.stop()
