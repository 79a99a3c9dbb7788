"""The event-log contract: the in-process log and the Redis log must both pass every test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from tokenwire.ids import ConversationId, MessageId
from tokenwire.log import EventLog, LogMiss, MemoryEventLog
from tokenwire.log.base import StreamLost
from tokenwire.log.batch import Batch
from tokenwire.log.redis import RedisEventLog
from tokenwire.protocol.events import (
    ErrorInfo,
    Event,
    MessageDelta,
    MessageEnd,
    MessageError,
    MessageQueued,
    Timings,
    Usage,
)

pytestmark = pytest.mark.anyio
MID = MessageId("m1")
LogFactory = Callable[..., EventLog]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "redis"])
async def make_log(request: pytest.FixtureRequest) -> AsyncIterator[LogFactory]:
    """Make logs of one backend: ``make_log(ttl_s=...)``; all are closed after the test."""
    made: list[EventLog] = []
    if request.param == "redis":
        url = request.getfixturevalue("redis_server")
        prefix = request.getfixturevalue("redis_prefix")

    def make(ttl_s: float = 3600.0) -> EventLog:
        log: EventLog
        if request.param == "redis":
            log = RedisEventLog(Redis.from_url(url), prefix=prefix, ttl_s=ttl_s)
        else:
            log = MemoryEventLog(ttl_s=ttl_s)
        made.append(log)
        return log

    yield make
    for log in made:
        await log.close()


def end(seq: int, mid: MessageId = MID) -> MessageEnd:
    return MessageEnd(mid, seq, "stop", Usage(0, seq - 1), Timings(1.0, 2.0))


async def collect(log: EventLog, after: int, mid: MessageId = MID) -> list[Event]:
    return [event async for batch in log.read(mid, after, batch=2) for event in batch]


async def test_replay_then_follow_until_the_end(make_log: LogFactory) -> None:
    log = make_log()
    await log.append(MessageDelta(MID, 0, "a"))
    await log.append(MessageDelta(MID, 1, "b"))
    reader = asyncio.create_task(collect(log, 0))
    await asyncio.sleep(0.05)
    await log.append(MessageDelta(MID, 2, "c"))
    await log.append(end(3))
    assert [e.seq for e in await reader] == [1, 2, 3]
    assert [e.seq for e in await collect(log, -1)] == [0, 1, 2, 3]
    assert await collect(log, 3) == []


async def test_events_come_back_equal_to_what_was_appended(make_log: LogFactory) -> None:
    log = make_log()
    events: list[Event] = [
        MessageDelta(MID, 0, "héllo ✓ "),
        MessageQueued(MID, 1, 2),
        MessageDelta(MID, 2, '\n"quoted" \\ and \x00 nul'),
        MessageError(MID, 3, ErrorInfo("interrupted", "stopped", True)),
    ]
    for event in events:
        await log.append(event)
    assert await collect(log, -1) == events


async def test_batches_hold_at_most_batch_events_and_all_that_is_pending(
    make_log: LogFactory,
) -> None:
    log = make_log()
    for seq in range(7):
        await log.append(MessageDelta(MID, seq, str(seq)))
    await log.append(end(7))
    batches = [batch async for batch in log.read(MID, -1, batch=3)]
    assert [[e.seq for e in b] for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7]]


async def test_a_slow_reader_takes_everything_pending_at_once(make_log: LogFactory) -> None:
    log = make_log()
    await log.append(MessageDelta(MID, 0, "a"))
    reader = log.read(MID, -1, batch=100)
    assert [e.seq for e in await anext(reader)] == [0]
    for seq in range(1, 6):
        await log.append(MessageDelta(MID, seq, "x"))
    assert [e.seq for e in await anext(reader)] == [1, 2, 3, 4, 5]
    await reader.aclose()


async def test_out_of_order_and_after_the_end_are_refused(make_log: LogFactory) -> None:
    log = make_log()
    # A gap is refused. A log that can lose events (Redis restarted) calls it a lost stream
    # and drops the stream, so that its readers finish from the store.
    with pytest.raises((ValueError, StreamLost), match=r"seq 0|stream lost"):
        await log.append(MessageDelta(MID, 1, "x"))
    gap = MessageId("m-gap")
    await log.append(MessageDelta(gap, 0, "x"))
    with pytest.raises((ValueError, StreamLost), match=r"out of order|stream lost"):
        await log.append(MessageDelta(gap, 2, "x"))
    await log.append(MessageDelta(MID, 0, "x"))
    with pytest.raises(ValueError, match="out of order"):
        await log.append(MessageDelta(MID, 0, "again"))
    await log.append(end(1))
    with pytest.raises(ValueError, match="already ended"):
        await log.append(MessageDelta(MID, 2, "x"))
    assert [e.seq for e in await collect(log, -1)] == [0, 1]


async def test_unknown_and_expired_streams_miss(make_log: LogFactory) -> None:
    log = make_log(ttl_s=0.2)
    with pytest.raises(LogMiss):
        await collect(log, -1)
    await log.append(MessageDelta(MID, 0, "x"))
    await log.append(end(1))
    assert len(await collect(log, -1)) == 2
    await asyncio.sleep(0.5)
    with pytest.raises(LogMiss):
        await collect(log, -1)


async def test_many_readers_of_one_reply_each_see_every_event(make_log: LogFactory) -> None:
    log = make_log()
    await log.append(MessageDelta(MID, 0, "start"))
    readers = [asyncio.create_task(collect(log, after)) for after in (-1, 0, 0, 0)]
    await asyncio.sleep(0.05)
    for seq in range(1, 20):
        await log.append(MessageDelta(MID, seq, f"{seq} "))
    await log.append(end(20))
    results = await asyncio.gather(*readers)
    assert [e.seq for e in results[0]] == list(range(21))
    for result in results[1:]:
        assert [e.seq for e in result] == list(range(1, 21))


async def test_replies_are_kept_apart(make_log: LogFactory) -> None:
    log = make_log()
    other = MessageId("m2")
    await log.append(MessageDelta(MID, 0, "mine"))
    await log.append(MessageDelta(other, 0, "theirs"))
    await log.append(end(1, other))
    await log.append(end(1))
    assert [e.message_id for e in await collect(log, -1)] == [MID, MID]
    assert [e.message_id for e in await collect(log, -1, other)] == [other, other]


async def test_watchers_hear_announcements_made_after_they_registered(
    make_log: LogFactory,
) -> None:
    log = make_log()
    cid = ConversationId("c1")
    await log.announce(cid, MessageId("before"))
    async with log.watch(cid) as ids, log.watch(cid) as ids2:
        await log.announce(cid, MessageId("m2"))
        await log.announce(ConversationId("other"), MessageId("m3"))
        await log.announce(cid, MessageId("m4"))
        assert await asyncio.wait_for(anext(ids), 30) == "m2"
        assert await asyncio.wait_for(anext(ids), 30) == "m4"
        assert await asyncio.wait_for(anext(ids2), 30) == "m2"
    await log.announce(cid, MessageId("after"))  # nobody listens; nothing is kept


async def test_a_reopened_stream_holds_the_given_events_and_goes_on(make_log: LogFactory) -> None:
    """A reply continued after its end: its stream is replaced by its events up to the old
    end, open again; new events take the seqs from there, and readers see one stream."""
    log = make_log()
    for seq, text in enumerate(["a", "b", "c"]):
        await log.append(MessageDelta(MID, seq, text))
    await log.append(end(3))
    seed: list[Event] = [
        MessageDelta(MID, 0, "a"),
        MessageQueued(MID, 1, 1),
        MessageDelta(MID, 2, "c"),
    ]
    await log.reopen(MID, seed)
    assert [e for batch in [await _pending(log)] for e in batch] == seed
    reader = asyncio.create_task(collect(log, 1))
    await asyncio.sleep(0.05)
    await log.append(MessageDelta(MID, 3, "d"))
    await log.append(end(4))
    assert [e.seq for e in await asyncio.wait_for(reader, 10)] == [2, 3, 4]
    assert [e.seq for e in await collect(log, -1)] == [0, 1, 2, 3, 4]
    # A stream the log no longer had is made from the events given.
    other = MessageId("m-gone")
    await log.reopen(other, [MessageDelta(other, 0, "x")])
    await log.append(end(1, other))
    assert [e.seq for e in await collect(log, -1, other)] == [0, 1]


async def _pending(log: EventLog) -> list[Event]:
    """What the stream holds now, without waiting for more."""
    out: list[Event] = []
    reader = log.read(MID, -1, batch=100)
    out += await reader.__anext__()
    await reader.aclose()  # type: ignore[attr-defined]
    return out


async def relayed(log: EventLog, after: int, slow: frozenset[int] = frozenset()) -> list[list[int]]:
    """The seqs of every batch ``relay`` hands over; a batch holding a seq in ``slow`` is
    answered with a write still pending (10 ms), as a full connection's would be."""
    batches: list[list[int]] = []

    def deliver(batch: Batch) -> Awaitable[None] | None:
        batches.append([e.seq for e in batch])
        if slow.intersection(batches[-1]):
            return asyncio.sleep(0.01)
        return None

    await log.relay(MID, after, deliver, batch=2)
    return batches


async def test_relay_hands_over_what_read_yields(make_log: LogFactory) -> None:
    log = make_log()
    await log.append(MessageDelta(MID, 0, "a"))
    await log.append(MessageDelta(MID, 1, "b"))
    live = asyncio.create_task(relayed(log, -1))
    past_the_end = asyncio.create_task(relayed(log, 4))  # a resume beyond what is there yet
    slow = asyncio.create_task(relayed(log, 0, slow=frozenset({1, 3})))
    await asyncio.sleep(0.05)
    for seq in range(2, 7):
        await log.append(MessageDelta(MID, seq, "x"))
        await asyncio.sleep(0.005)
    await log.append(end(7))
    every = [seq for batch in await live for seq in batch]
    assert every == list(range(8))
    assert [seq for batch in await past_the_end for seq in batch] == [5, 6, 7]
    assert [seq for batch in await slow for seq in batch] == list(range(1, 8))
    assert await relayed(log, -1) == [[0, 1], [2, 3], [4, 5], [6, 7]]  # replay, in batches
    assert await relayed(log, 7) == []


async def test_relay_of_an_unknown_reply_misses_and_a_failing_deliver_ends_it(
    make_log: LogFactory,
) -> None:
    log = make_log()
    with pytest.raises(LogMiss):
        await relayed(log, -1)
    await log.append(MessageDelta(MID, 0, "a"))

    def broken(batch: Batch) -> None:
        if batch[-1].seq == 1:
            raise ConnectionResetError("gone")

    failing = asyncio.create_task(log.relay(MID, -1, broken, batch=10))
    await asyncio.sleep(0.05)
    await log.append(MessageDelta(MID, 1, "b"))
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(failing, 30)
    await log.append(end(2))  # the appender never saw it
    assert [seq for batch in await relayed(log, -1) for seq in batch] == [0, 1, 2]
