"""Leases and commands between instances, against a real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from tests.helpers.redis_proxy import ReplyDropper
from tokenwire.engine.cluster import Cluster
from tokenwire.engine.commands import Commands
from tokenwire.engine.lease import Leases
from tokenwire.log.redis import RedisEventLog
from tokenwire.redis import connect

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def redis(redis_server: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server)
    yield client
    await client.aclose()


def leases_of(redis: Redis, prefix: str, instance: str, ttl_s: float = 5.0) -> Leases:
    return Leases(redis, prefix=prefix, instance=instance, ttl_s=ttl_s)


async def test_one_instance_holds_a_lease_and_only_it_renews_or_releases_it(
    redis: Redis, redis_prefix: str
) -> None:
    a, b = leases_of(redis, redis_prefix, "a"), leases_of(redis, redis_prefix, "b")
    assert await a.acquire("m1")
    assert not await b.acquire("m1")
    assert await a.holds("m1")
    assert not await b.holds("m1")
    assert await b.renew(["m1"]) == {"m1"}, "b never held it"
    await b.release("m1")
    assert await a.holds("m1"), "b cannot release a's lease"
    assert await a.renew(["m1"]) == set()
    assert await a.unowned(["m1", "m2"]) == ["m2"]
    await a.release("m1")
    assert await b.acquire("m1")


async def test_a_lease_that_is_not_renewed_lapses_and_can_be_taken(
    redis: Redis, redis_prefix: str
) -> None:
    # A TTL of seconds and sleeps well inside it: a busy machine oversleeps, but not by that.
    a = leases_of(redis, redis_prefix, "a", ttl_s=2.0)
    b = leases_of(redis, redis_prefix, "b", ttl_s=2.0)
    assert await a.acquire("m1")
    await asyncio.sleep(1.2)
    assert await a.renew(["m1"]) == set()
    await asyncio.sleep(1.2)  # past the first TTL, inside the renewed one
    assert not await b.acquire("m1"), "renewed: still a's"
    deadline = time.monotonic() + 30
    while not await b.acquire("m1"):  # not renewed again: it lapses
        assert time.monotonic() < deadline, "the lease never lapsed"
        await asyncio.sleep(0.05)
    assert await a.renew(["m1"]) == {"m1"}, "a learns that it lost it"


async def test_a_cancel_reaches_every_instance_and_stays_readable(
    redis: Redis, redis_prefix: str
) -> None:
    heard: list[tuple[str, str]] = []
    both = asyncio.Event()

    def hear(instance: str) -> Callable[[str], None]:
        def on_cancel(message_id: str) -> None:
            heard.append((instance, message_id))
            if len(heard) == 2:
                both.set()

        return on_cancel

    here, there = Commands(redis, prefix=redis_prefix), Commands(redis, prefix=redis_prefix)
    await here.start(hear("here"))
    await there.start(hear("there"))
    try:
        await here.cancel("m1")
        await asyncio.wait_for(both.wait(), 30)
        assert sorted(heard) == [("here", "m1"), ("there", "m1")]
        assert await there.cancelled(["m1", "m2"]) == {"m1"}
    finally:
        await here.close()
        await there.close()


async def test_a_new_replys_lease_whose_answer_was_lost_is_held(
    redis_server: str, redis_prefix: str
) -> None:
    """Redis took the lease, then the connection dropped before its answer came back: the
    client's retry finds the lease taken, by this very instance."""
    async with ReplyDropper(redis_server) as proxy:
        client = connect(proxy.url)
        leases = leases_of(client, redis_prefix, "a")
        events = RedisEventLog(client, prefix=redis_prefix)
        cluster = Cluster("a", events, leases, Commands(client, prefix=redis_prefix))
        try:
            proxy.arm(b"SET")
            lease = await cluster.claim("m1")
            assert proxy.dropped.is_set()
            assert await lease.holds()
            assert not await leases_of(client, redis_prefix, "b").acquire("m1")
        finally:
            await events.close()


async def test_a_takeover_counted_once_when_its_answer_was_lost(
    redis_server: str, redis_prefix: str
) -> None:
    """The count of a reply's takeovers went through, then the connection dropped before its
    answer came back: the client's retry does not count it twice."""
    async with ReplyDropper(redis_server) as proxy:
        client = connect(proxy.url)
        leases = leases_of(client, redis_prefix, "a")
        try:
            proxy.arm(b"EXEC")
            assert await leases.count_takeover("m1") == 1
            assert proxy.dropped.is_set()
            assert await leases.count_takeover("m1") == 2
            assert await leases_of(client, redis_prefix, "b").count_takeover("m1") == 3
        finally:
            await client.aclose()
