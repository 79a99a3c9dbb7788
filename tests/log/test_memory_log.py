"""The in-process event log: replay, follow, ordering, expiry, announcements."""

from __future__ import annotations

import asyncio

import pytest

from tokenwire.ids import ConversationId, MessageId
from tokenwire.log import LogMiss, MemoryEventLog
from tokenwire.log.batch import Batch
from tokenwire.protocol.events import Event, MessageDelta, MessageEnd, Timings, Usage

pytestmark = pytest.mark.anyio
MID = MessageId("m1")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def end(seq: int) -> MessageEnd:
    return MessageEnd(MID, seq, "stop", Usage(0, seq - 1), Timings(1.0, 2.0))


async def collect(log: MemoryEventLog, after: int) -> list[Event]:
    return [event async for batch in log.read(MID, after, batch=2) for event in batch]


async def test_replay_then_follow_until_the_end() -> None:
    log = MemoryEventLog()
    await log.append(MessageDelta(MID, 0, "a"))
    await log.append(MessageDelta(MID, 1, "b"))
    reader = asyncio.create_task(collect(log, 0))
    await asyncio.sleep(0.01)
    await log.append(MessageDelta(MID, 2, "c"))
    await log.append(end(3))
    assert [e.seq for e in await reader] == [1, 2, 3]
    assert [e.seq for e in await collect(log, -1)] == [0, 1, 2, 3]
    assert await collect(log, 3) == []


async def test_out_of_order_and_after_the_end_are_refused() -> None:
    log = MemoryEventLog()
    with pytest.raises(ValueError, match="seq 0"):
        await log.append(MessageDelta(MID, 1, "x"))
    await log.append(MessageDelta(MID, 0, "x"))
    with pytest.raises(ValueError, match="out of order"):
        await log.append(MessageDelta(MID, 2, "x"))
    await log.append(end(1))
    with pytest.raises(ValueError, match="already ended"):
        await log.append(MessageDelta(MID, 2, "x"))


async def test_unknown_and_expired_streams_miss() -> None:
    log = MemoryEventLog(ttl_s=0.05)
    with pytest.raises(LogMiss):
        await collect(log, -1)
    await log.append(MessageDelta(MID, 0, "x"))
    await log.append(end(1))
    assert len(await collect(log, -1)) == 2
    await asyncio.sleep(0.1)
    with pytest.raises(LogMiss):
        await collect(log, -1)


async def test_watchers_hear_announcements_made_after_they_registered() -> None:
    log = MemoryEventLog()
    cid = ConversationId("c1")
    await log.announce(cid, MessageId("before"))
    async with log.watch(cid) as ids:
        await log.announce(cid, MessageId("m2"))
        await log.announce(ConversationId("other"), MessageId("m3"))
        assert await asyncio.wait_for(anext(ids), 30) == "m2"
    await log.announce(cid, MessageId("after"))  # nobody listens; nothing is kept


async def test_a_reader_that_goes_away_is_not_woken_again() -> None:
    log = MemoryEventLog()
    await log.append(MessageDelta(MID, 0, "a"))
    readers = [asyncio.create_task(collect(log, 0)) for _ in range(3)]
    await asyncio.sleep(0.01)
    readers[0].cancel()
    await asyncio.sleep(0.01)
    # Peeking at the stream's waiters: the cancelled reader left, the two others still wait.
    assert len(log._streams[MID].waiters) == 2
    await log.append(end(1))
    assert [[e.seq for e in await r] for r in readers[1:]] == [[1], [1]]
    assert readers[0].cancelled()


async def test_readers_at_one_point_share_the_batch_and_what_is_derived_from_it() -> None:
    log = MemoryEventLog()
    await log.append(MessageDelta(MID, 0, "a"))
    readers = [log.read(MID, 0, batch=512) for _ in range(3)]
    waiting = [asyncio.create_task(anext(r)) for r in readers]
    await asyncio.sleep(0.01)
    await log.append(MessageDelta(MID, 1, "b"))
    batches = await asyncio.gather(*waiting)
    assert [[e.seq for e in b] for b in batches] == [[1], [1], [1]]
    assert all(b is batches[0] for b in batches)
    made: list[int] = []

    def encode(batch: Batch) -> bytes:
        made.append(1)
        return b"".join(e.text.encode() for e in batch if isinstance(e, MessageDelta))

    assert [b.derive(("test",), encode) for b in batches] == [b"b", b"b", b"b"]
    assert len(made) == 1
    # A reader further back gets a batch of its own.
    behind = log.read(MID, -1, batch=512)
    own = await anext(behind)
    assert [e.seq for e in own] == [0, 1]
    assert own is not batches[0]
    for r in [*readers, behind]:
        await r.aclose()
