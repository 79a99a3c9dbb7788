"""kill -9 of the instance running a reply: another takes it over, continues it or ends it."""

from __future__ import annotations

import signal
import time
from typing import Any

from redis import Redis

from tests.helpers.server import Server, sse_events, text_of
from tests.scaleout.conftest import Deployment
from tests.scaleout.test_instances import LONG, follow, new_conversation, start_reply

SLOW = {"scripted_delay_ms": 50, "scripted_chunk_words": 1}


def follow_through_a_kill(
    owner: Server, survivor: Server, mid: str, kill_after: int
) -> tuple[list[dict[str, Any]], int, float]:
    """Follow the reply on ``survivor`` and kill ``owner`` after ``kill_after`` deltas.

    Returns the events, how many came before the kill, and how long after the kill the next
    one arrived (the takeover time as a client sees it).
    """
    events: list[dict[str, Any]] = []
    killed_at: float | None = None
    before = 0
    gap = 0.0
    with (
        survivor.client() as client,
        client.stream("GET", f"/api/v1/messages/{mid}/events") as response,
    ):
        for event in sse_events(response):
            if killed_at is not None and not gap:
                gap = time.monotonic() - killed_at
            events.append(event)
            if (
                killed_at is None
                and sum(e["type"] == "message.delta" for e in events) == kill_after
            ):
                owner.proc.send_signal(signal.SIGKILL)
                owner.proc.wait(10)
                killed_at = time.monotonic()
                before = len(events)
    return events, before, gap


def stored(server: Server, mid: str) -> dict[str, Any]:
    with server.client() as client:
        return dict(client.get(f"/api/v1/messages/{mid}").json())


def test_a_killed_owners_reply_is_continued_by_another_instance(deployment: Deployment) -> None:
    a, b = deployment(2, takeover="continue", **SLOW)
    with a.client() as client:
        mid = start_reply(client, new_conversation(client))
    events, before, gap = follow_through_a_kill(a, b, mid, kill_after=8)
    print(f"takeover: next event {gap:.2f} s after the kill")

    assert 0 < before < len(events)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), "the seq goes on from where the dead owner stopped"
    assert events[-1]["type"] == "message.end"
    assert events[-1]["finish_reason"] == "stop"
    assert text_of(events) == LONG, "what the client on b received, byte-exact"
    assert gap < 10  # a lease of 1 s, sweeps every 0.2 s: the text resumes within seconds

    row = stored(b, mid)
    assert row["status"] == "complete"
    assert row["content"] == LONG
    assert row["seq"] == events[-1]["seq"]
    assert row["metadata"]["takeover"]["outcome"] == "continued"
    assert row["metadata"]["takeover"]["at_seq"] >= events[before - 1]["seq"]
    again = follow(b, mid)  # the whole stream, from the start, as a new client sees it
    assert text_of(again) == LONG
    assert again[-1] == events[-1]


def test_a_killed_owners_reply_ends_interrupted_with_its_partial(deployment: Deployment) -> None:
    a, b = deployment(2, takeover="interrupt", **SLOW)
    with a.client() as client:
        mid = start_reply(client, new_conversation(client))
    events, before, gap = follow_through_a_kill(a, b, mid, kill_after=8)
    print(f"takeover: the end arrived {gap:.2f} s after the kill")

    assert events[-1]["type"] == "message.error"
    assert events[-1]["error"]["code"] == "interrupted"
    assert events[-1]["error"]["retryable"] is True
    assert events[-1]["seq"] > events[before - 1]["seq"]
    assert gap < 10
    partial = text_of(events)
    assert partial
    assert LONG.startswith(partial)
    assert len(partial) < len(LONG)

    row = stored(b, mid)
    assert row["status"] == "interrupted"
    assert row["content"] == partial, "the partial kept is exactly what clients were sent"
    assert row["metadata"]["takeover"]["outcome"] == "interrupted"


def test_a_cancel_for_a_dead_owners_reply_ends_it_when_taken_over(
    deployment: Deployment,
) -> None:
    # The cancel must be waiting when the takeover comes: with the usual one-second lease a
    # busy machine delivered it after the dead owner's lease ran out, and the takeover had
    # already continued the reply (the path of the test of a continued reply above). A
    # five-second lease leaves the cancel seconds to arrive.
    a, b = deployment(2, takeover="continue", lease_ttl_s=5.0, **SLOW)
    with a.client() as client:
        mid = start_reply(client, new_conversation(client))
    time.sleep(0.5)
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(10)
    with b.client() as client:
        response = client.post(f"/api/v1/messages/{mid}/cancel")
    assert response.status_code == 200
    row = response.json()
    assert row["status"] == "cancelled"
    assert LONG.startswith(row["content"])
    assert row["metadata"]["takeover"]["outcome"] == "cancelled"
    events = follow(b, mid)
    assert events[-1]["type"] == "message.end"
    assert events[-1]["finish_reason"] == "cancelled"
    assert text_of(events) == row["content"]


def test_a_reply_that_keeps_losing_its_instance_is_not_continued_forever(
    deployment: Deployment, redis_server: str, redis_prefix: str
) -> None:
    """With ``max_takeovers=1``: the first takeover continues the reply, the second (its new
    instance died too) ends it ``interrupted`` with the text clients were sent."""
    servers = deployment(3, takeover="continue", max_takeovers=1, **SLOW)
    with servers[0].client() as client:
        mid = start_reply(client, new_conversation(client))
    first = servers[0]
    time.sleep(0.6)  # some text first
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(10)
    redis = Redis.from_url(redis_server)
    try:
        second = wait_for_owner(redis, f"{redis_prefix}lease:{mid}", servers, first)
    finally:
        redis.close()
    time.sleep(0.6)  # the reply goes on there for a while
    second.proc.send_signal(signal.SIGKILL)
    second.proc.wait(10)
    survivor = next(s for s in servers if s.proc.poll() is None)
    deadline = time.monotonic() + 20
    while (row := stored(survivor, mid))["status"] == "streaming":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert row["status"] == "interrupted"
    assert row["metadata"]["takeover"]["outcome"] == "interrupted"
    assert row["metadata"]["takeover"]["count"] == 2
    assert row["content"]
    assert LONG.startswith(row["content"])
    events = follow(survivor, mid)
    assert text_of(events) == row["content"]
    assert events[-1]["error"]["code"] == "interrupted"


def wait_for_owner(redis: Redis, lease: str, servers: list[Server], dead: Server) -> Server:
    """The instance that took the lease over from ``dead`` (its value names the pid)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        holder = redis.get(lease)
        if holder is not None:
            pid = int(holder.decode().split(":")[1])
            if pid != dead.proc.pid:
                return next(s for s in servers if s.proc.pid == pid)
        time.sleep(0.05)
    raise AssertionError("nobody took the reply over")
