"""The counters behind the limits: one contract, in process and on a real Redis."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.helpers.redis_proxy import ReplyDropper
from tests.helpers.server import free_port
from tokenwire.ops.counters import Counters, MemoryCounters, wait_s
from tokenwire.ops.redis_counters import RedisCounters

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "redis"])
async def counters(
    request: pytest.FixtureRequest, redis_server: str, redis_prefix: str
) -> AsyncIterator[Counters]:
    made: Counters
    if request.param == "memory":
        made = MemoryCounters()
    else:
        made = RedisCounters.from_url(redis_server, prefix=redis_prefix)
    await made.start()
    yield made
    await made.close()


async def test_a_rate_admits_up_to_its_limit_then_says_how_long_to_wait(
    counters: Counters,
) -> None:
    for _ in range(3):
        assert await counters.hit("rate:a", limit=3, window_s=60) is None
    wait = await counters.hit("rate:a", limit=3, window_s=60)
    assert wait is not None
    assert 0 < wait <= 120
    # A refused request is not counted, and other keys have budgets of their own.
    assert await counters.hit("rate:a", limit=4, window_s=60) is None
    assert await counters.hit("rate:b", limit=3, window_s=60) is None


async def test_a_rate_comes_back_as_its_window_slides_by(counters: Counters) -> None:
    for _ in range(2):
        assert await counters.hit("rate:slide", limit=2, window_s=1) is None
    # On a loaded machine the hits can straddle the one-second window, and the third is let
    # through: hit on until one is refused, which a full window forces.
    wait = None
    for _ in range(20):
        wait = await counters.hit("rate:slide", limit=2, window_s=1)
        if wait is not None:
            break
    assert wait is not None
    await asyncio.sleep(wait + 0.05)
    assert await counters.hit("rate:slide", limit=2, window_s=1) is None


async def test_slots_are_held_until_released(counters: Counters) -> None:
    first = await counters.acquire("slots:u", limit=2)
    second = await counters.acquire("slots:u", limit=2)
    assert first is not None
    assert second is not None
    assert first != second
    assert await counters.acquire("slots:u", limit=2) is None
    assert await counters.acquire("slots:other", limit=2) is not None
    counters.release("slots:u", first)
    counters.release("slots:u", first)  # twice changes nothing
    for _ in range(100):  # a Redis release completes in the background
        if (third := await counters.acquire("slots:u", limit=2)) is not None:
            break
        await asyncio.sleep(0.01)
    assert third is not None
    assert await counters.acquire("slots:u", limit=2) is None


async def test_instances_on_one_redis_share_rates_and_slots(
    redis_server: str, redis_prefix: str
) -> None:
    one = RedisCounters.from_url(redis_server, prefix=redis_prefix)
    two = RedisCounters.from_url(redis_server, prefix=redis_prefix)
    await one.start()
    await two.start()
    try:
        assert await one.hit("rate:shared", limit=2, window_s=60) is None
        assert await two.hit("rate:shared", limit=2, window_s=60) is None
        assert await one.hit("rate:shared", limit=2, window_s=60) is not None
        lease = await one.acquire("slots:shared", limit=1)
        assert lease is not None
        assert await two.acquire("slots:shared", limit=1) is None
    finally:
        await one.close()  # closing gives the held slot back
        for _ in range(100):
            if await two.acquire("slots:shared", limit=1) is not None:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the slot of the closed instance never came back")
        await two.close()


async def test_the_slots_of_a_dead_instance_expire(redis_server: str, redis_prefix: str) -> None:
    # Never started: nothing refreshes its leases, as after a crash.
    dead = RedisCounters.from_url(redis_server, prefix=redis_prefix, lease_ttl_s=1)
    alive = RedisCounters.from_url(redis_server, prefix=redis_prefix)
    try:
        assert await dead.acquire("slots:crash", limit=1) is not None
        assert await alive.acquire("slots:crash", limit=1) is None
        await asyncio.sleep(1.1)
        assert await alive.acquire("slots:crash", limit=1) is not None
    finally:
        await dead.redis.aclose()
        await alive.close()


async def test_held_slots_outlive_their_ttl_while_refreshed(
    redis_server: str, redis_prefix: str
) -> None:
    holder = RedisCounters.from_url(redis_server, prefix=redis_prefix, lease_ttl_s=1)
    other = RedisCounters.from_url(redis_server, prefix=redis_prefix)
    await holder.start()
    try:
        assert await holder.acquire("slots:kept", limit=1) is not None
        await asyncio.sleep(1.5)
        assert await other.acquire("slots:kept", limit=1) is None
    finally:
        await holder.close()
        await other.close()


async def test_an_unreachable_redis_lets_requests_through() -> None:
    nowhere = RedisCounters.from_url(f"redis://127.0.0.1:{free_port()}/0", prefix="t:")
    try:
        assert await nowhere.hit("rate:x", limit=1, window_s=60) is None
        assert await nowhere.hit("rate:x", limit=1, window_s=60) is None
        assert await nowhere.acquire("slots:x", limit=1) is not None
        with pytest.raises(RedisConnectionError):
            await nowhere.ping()
    finally:
        await nowhere.close()


def test_wait_is_how_long_until_the_estimate_drops_below_the_limit() -> None:
    # Previous window 10, current 0, a quarter in: estimate 7.5 against a limit of 5.
    # It drops to 5 when half of the window has gone: a quarter of 60 s from now.
    assert wait_s(10, 0, 15, 60, 5) == pytest.approx(15)
    # The current window alone is full (6 of 5): wait for its end, then until 6 * (1 - e/60)
    # drops below 5, 10 s into the next window.
    assert wait_s(0, 6, 30, 60, 5) == pytest.approx(30 + 10)
    # Nothing in the way: no wait.
    assert wait_s(0, 0, 10, 60, 5) == 0


WITHOUT_REDIS = """
import sys
from tokenwire.api import create_app
from tokenwire.ops.wiring import create_counters
from tokenwire.settings import Settings

settings = Settings(redis_url=None, limits_redis_url=None)
create_app(settings)
print(type(create_counters(settings)).__name__, "redis" in sys.modules)
"""


def test_a_server_without_redis_does_not_import_its_client(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_REDIS],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TOKENWIRE_DATA_DIR": str(tmp_path)},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["MemoryCounters", "False"]


async def test_a_slot_whose_answer_was_lost_is_held_not_refused(
    redis_server: str, redis_prefix: str
) -> None:
    """Redis gave the last slot, then the connection dropped before its answer came back:
    the client's retry finds the slot taken, by this very lease."""
    async with ReplyDropper(redis_server) as proxy:
        counters = RedisCounters.from_url(proxy.url, prefix=redis_prefix)
        other = RedisCounters.from_url(redis_server, prefix=redis_prefix)
        try:
            # Once first, so that Redis has the script: the armed call is the acquire itself.
            assert await counters.acquire("slots:warm", limit=1) is not None
            proxy.arm(b"EVALSHA")
            lease = await counters.acquire("slots:lost", limit=1)
            assert proxy.dropped.is_set()
            assert lease is not None
            assert await other.acquire("slots:lost", limit=1) is None  # one slot, taken once
            counters.release("slots:lost", lease)
            await counters.close()  # sends the queued release
            assert await other.acquire("slots:lost", limit=1) is not None
        finally:
            await other.close()
