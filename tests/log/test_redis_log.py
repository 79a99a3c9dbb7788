"""What only the Redis log has: several instances, expiry in Redis, and Redis failing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from tests.helpers import services
from tests.helpers.server import free_port
from tests.helpers.services import ThrowawayRedis
from tokenwire.errors import LeaseLost, Unavailable
from tokenwire.ids import ConversationId, MessageId
from tokenwire.log.base import Fence, LogMiss, StreamLost
from tokenwire.log.redis import LIVE_TTL_S, RedisEventLog
from tokenwire.protocol.events import MessageDelta, MessageEnd, Timings, Usage
from tokenwire.redis import connect

pytestmark = pytest.mark.anyio
MID = MessageId("m1")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def logs(redis_server: str, redis_prefix: str) -> AsyncIterator[list[RedisEventLog]]:
    """Two logs on one Redis, as two instances of a deployment have."""
    made = [
        RedisEventLog(Redis.from_url(redis_server), prefix=redis_prefix, ttl_s=30) for _ in range(2)
    ]
    yield made
    for log in made:
        await log.close()


async def test_instances_read_each_others_replies_and_hear_announcements(
    logs: list[RedisEventLog],
) -> None:
    here, there = logs
    cid = ConversationId("c1")
    async with there.watch(cid) as ids:
        await here.append(MessageDelta(MID, 0, "from here"))
        await here.announce(cid, MID)
        assert await asyncio.wait_for(anext(ids), 30) == MID
    reader = there.read(MID, -1, batch=10)
    assert [e.seq for e in await anext(reader)] == [0]
    await here.append(MessageEnd(MID, 1, "stop", Usage(1, 1), Timings(1.0, 2.0)))
    assert [e.seq for e in await anext(reader)] == [1]
    await reader.aclose()


async def test_a_stream_expires_after_its_end_and_not_before(logs: list[RedisEventLog]) -> None:
    log = logs[0]
    key = log.key(MID)
    await log.append(MessageDelta(MID, 0, "x"))
    assert await log.redis.pttl(key) > (LIVE_TTL_S - 60) * 1000
    await log.append(MessageEnd(MID, 1, "stop", Usage(1, 1), Timings(1.0, 2.0)))
    assert 0 < await log.redis.pttl(key) <= 30_000
    assert [e.seq for e in await log.snapshot(MID)] == [0, 1]


async def test_redis_down_is_unavailable() -> None:
    log = RedisEventLog(Redis.from_url(f"redis://127.0.0.1:{free_port()}"), prefix="t:")
    try:
        with pytest.raises(Unavailable):
            await log.append(MessageDelta(MID, 0, "x"))
        with pytest.raises(Unavailable):
            await anext(log.read(MID, -1, batch=10))
        with pytest.raises(Unavailable):
            await log.announce(ConversationId("c1"), MID)
    finally:
        await log.close()


async def test_a_stalled_redis_holds_the_writer_back() -> None:
    """Appends wait for Redis: while it accepts no writes, nothing piles up in the process."""
    server = ThrowawayRedis()  # a private one: pausing a shared Redis would stall others
    log = RedisEventLog(Redis.from_url(server.url), prefix="t:")
    try:
        await log.append(MessageDelta(MID, 0, "x"))
        await log.redis.execute_command("CLIENT", "PAUSE", "600", "WRITE")
        started = time.monotonic()
        await log.append(MessageDelta(MID, 1, "y"))
        assert time.monotonic() - started >= 0.4
        assert [e.seq for e in await log.snapshot(MID)] == [0, 1]
    finally:
        await log.close()
        server.stop()


async def test_a_fenced_append_is_refused_once_the_lease_is_someone_elses(
    logs: list[RedisEventLog],
) -> None:
    """An owner that stalled past its lease cannot write after the instance that took the
    reply over: the lease check and the append are one atomic step."""
    stalled, taker = logs
    lease = stalled.key(MID) + ":lease"
    await stalled.redis.set(lease, "instance-a")
    await stalled.append(MessageDelta(MID, 0, "a"), fence=Fence(lease, "instance-a"))
    await stalled.redis.set(lease, "instance-b")  # instance a's lease lapsed; b took it
    with pytest.raises(LeaseLost):
        await stalled.append(MessageDelta(MID, 1, "late"), fence=Fence(lease, "instance-a"))
    await taker.append(MessageDelta(MID, 1, "b"), fence=Fence(lease, "instance-b"))
    reader = taker.read(MID, -1, batch=10)
    events = await anext(reader)
    await reader.aclose()
    assert [(e.seq, e.text) for e in events if isinstance(e, MessageDelta)] == [(0, "a"), (1, "b")]


async def test_many_live_followers_share_one_blocking_read(
    redis_server: str, redis_prefix: str
) -> None:
    """Two hundred clients following live replies on one instance: every one gets every
    event, while the instance keeps to its bounded pool instead of a connection each."""
    writer = RedisEventLog(connect(redis_server), prefix=redis_prefix, ttl_s=30)
    reader = RedisEventLog(
        connect(redis_server, max_connections=8, name="many-followers"),
        prefix=redis_prefix,
        ttl_s=30,
    )
    ids = [MessageId(f"live-{i}") for i in range(20)]
    try:
        for mid in ids:
            await writer.append(MessageDelta(mid, 0, "start"))
        count = len(ids) * 10
        started: list[MessageId] = []
        all_started = asyncio.Event()

        def on_start(mid: MessageId) -> None:
            started.append(mid)
            if len(started) == count:
                all_started.set()

        followers = [
            asyncio.create_task(collect(reader, mid, on_start)) for mid in ids for _ in range(10)
        ]
        # Every follower has read through its pool (which keeps the connections it opened); a
        # loaded machine may take a while to get there.
        await asyncio.wait_for(all_started.wait(), 30)
        assert 1 <= await connections(writer, "many-followers") <= 8
        for seq in range(1, 6):
            for mid in ids:
                await writer.append(MessageDelta(mid, seq, f" {seq}"))
            await asyncio.sleep(0.01)
        for mid in ids:
            await writer.append(MessageEnd(mid, 6, "stop", Usage(1, 5), Timings(1.0, 2.0)))
        results = await asyncio.wait_for(asyncio.gather(*followers), 20)
        assert all(text == "start 1 2 3 4 5" for text in results)
        assert await connections(writer, "many-followers") <= 8
    finally:
        await writer.close()
        await reader.close()


async def connections(log: RedisEventLog, name: str) -> int:
    """How many connections Redis itself counts under ``name``."""
    return sum(1 for client in await log.redis.client_list() if client.get("name") == name)


async def collect(
    log: RedisEventLog, mid: MessageId, on_start: Callable[[MessageId], None] | None = None
) -> str:
    """The text of reply ``mid``; ``on_start`` is called once its first events are read."""
    parts: list[str] = []
    async for batch in log.read(mid, -1, batch=100):
        if on_start is not None:
            on_start(mid)
            on_start = None  # once
        parts += [e.text for e in batch if isinstance(e, MessageDelta)]
    return "".join(parts)


async def test_live_followers_share_one_read_and_one_batch(logs: list[RedisEventLog]) -> None:
    log = logs[0]
    await log.append(MessageDelta(MID, 0, "a"))
    readers = [log.read(MID, 0, batch=512) for _ in range(20)]
    waiting = [asyncio.create_task(anext(r)) for r in readers]
    await asyncio.sleep(0.3)  # every reader found nothing new and waits for the stream to grow
    await log.append(MessageDelta(MID, 1, "b"))
    batches = await asyncio.wait_for(asyncio.gather(*waiting), 5)
    assert [[e.seq for e in b] for b in batches] == [[1]] * 20
    # Followers woken together take one read: the same batch object (a few, should some
    # wake a loop tick apart on a loaded machine), each of its own before.
    assert len({id(b) for b in batches}) <= 4
    for r in readers:
        await r.aclose()


async def test_a_writer_finding_its_stream_behind_it_drops_it(redis_server: str) -> None:
    """Redis restarted from an older file: the stream lacks events its writer appended.
    The writer's next append drops it, and readers waiting on it finish (``LogMiss``)."""
    log = RedisEventLog(connect(redis_server), prefix=services.redis_prefix())
    for seq in range(4):
        await log.append(MessageDelta(MID, seq, "x"))
    reader = log.read(MID, 3, batch=10)  # a reader waiting for seq 4
    waiting = asyncio.ensure_future(anext(reader))
    try:
        await asyncio.sleep(0.1)
        # What a restart from an older file leaves: the last two events are gone.
        await log.redis.xdel(log.key(MID), "1-2", "1-3")
        with pytest.raises(StreamLost):
            await log.append(MessageDelta(MID, 4, "x"))
        with pytest.raises(LogMiss):
            await asyncio.wait_for(waiting, 30)
        with pytest.raises(LogMiss):
            await log.snapshot(MID)
    finally:
        waiting.cancel()
        await log.close()


async def test_the_same_event_again_is_taken_as_appended_and_no_other(
    logs: list[RedisEventLog],
) -> None:
    """A client retrying an append whose answer was lost sends the same event again."""
    log = logs[0]
    await log.append(MessageDelta(MID, 0, "a"))
    await log.append(MessageDelta(MID, 1, "b"))
    await log.append(MessageDelta(MID, 1, "b"))
    with pytest.raises(ValueError, match="out of order"):
        await log.append(MessageDelta(MID, 1, "c"))  # another event at that seq
    with pytest.raises(ValueError, match="out of order"):
        await log.append(MessageDelta(MID, 0, "a"))  # only the last one is taken again
    end = MessageEnd(MID, 2, "stop", Usage(1, 2), Timings(1.0, 2.0))
    await log.append(end)
    await log.append(end)  # an ended stream takes its own end again, nothing else
    with pytest.raises(ValueError, match="ended"):
        await log.append(MessageDelta(MID, 3, "d"))
    entries = await log.redis.xrange(log.key(MID))
    assert [entry_id for entry_id, _ in entries] == [b"1-0", b"1-1", b"1-2"]
