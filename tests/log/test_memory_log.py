"""The in-process event log: replay, follow, ordering, expiry, announcements."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable
from typing import Any

import pytest

from tokenwire.ids import ConversationId, MessageId
from tokenwire.log import LogMiss, MemoryEventLog
from tokenwire.log.batch import Batch
from tokenwire.log.delivery import eager
from tokenwire.log.watchers import Inbox
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


async def test_an_inbox_keeps_order_and_survives_a_reader_that_went_away() -> None:
    inbox: Inbox[str] = Inbox()
    inbox.put_nowait("a")
    inbox.put_nowait("b")
    assert await inbox.get() == "a"
    assert await inbox.get() == "b"
    gone = asyncio.create_task(inbox.get())
    await asyncio.sleep(0.01)
    gone.cancel()  # its reader went away while it waited
    await asyncio.gather(gone, return_exceptions=True)
    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    inbox.put_nowait("c")
    inbox.put_nowait("d")
    assert await asyncio.wait_for(waiting, 1) == "c"
    assert await inbox.get() == "d"


async def test_a_caught_up_relay_is_handed_each_event_by_the_appender() -> None:
    log = MemoryEventLog()
    await log.append(MessageDelta(MID, 0, "a"))
    follower = contextvars.ContextVar[str]("follower", default="appender")
    seen: list[tuple[list[int], asyncio.Task[Any] | None, str]] = []

    def deliver(batch: Batch) -> None:
        seen.append(([e.seq for e in batch], asyncio.current_task(), follower.get()))

    async def relay() -> None:
        follower.set("follower")
        await log.relay(MID, -1, deliver, batch=10)

    relaying = asyncio.create_task(relay())
    await asyncio.sleep(0.05)
    assert seen == [([0], relaying, "follower")]  # caught up in its own task
    for seq in (1, 2):
        await log.append(MessageDelta(MID, seq, "x"))
        # Handed over within the append, in the appender's task, in the follower's context.
        assert seen[-1] == ([seq], asyncio.current_task(), "follower")
    await log.append(end(3))
    assert seen[-1][0] == [3]
    await asyncio.wait_for(relaying, 30)


async def test_a_relay_whose_write_waits_is_left_out_until_it_caught_up() -> None:
    log = MemoryEventLog()
    await log.append(MessageDelta(MID, 0, "a"))
    full = asyncio.get_running_loop().create_future()
    batches: list[list[int]] = []

    def deliver(batch: Batch) -> Awaitable[None] | None:
        batches.append([e.seq for e in batch])
        return full if batches[-1] == [1] else None  # the connection is full after seq 1

    relaying = asyncio.create_task(log.relay(MID, -1, deliver, batch=10))
    await asyncio.sleep(0.05)
    for seq in range(1, 5):
        await log.append(MessageDelta(MID, seq, "x"))
    assert batches == [[0], [1]]  # nothing more pushed while its write waits
    full.set_result(None)
    await asyncio.sleep(0.05)
    assert batches == [[0], [1], [2, 3, 4]]  # it caught up at once, in its own task
    await log.append(end(5))
    assert batches[-1] == [5]  # and is handed events again
    await asyncio.wait_for(relaying, 30)


async def test_a_relay_that_goes_away_is_handed_nothing_more() -> None:
    log = MemoryEventLog()
    await log.append(MessageDelta(MID, 0, "a"))
    batches: list[list[int]] = []

    def deliver(batch: Batch) -> None:
        batches.append([e.seq for e in batch])

    relaying = asyncio.create_task(log.relay(MID, -1, deliver, batch=10))
    await asyncio.sleep(0.05)
    relaying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await relaying
    await log.append(MessageDelta(MID, 1, "b"))
    await log.append(end(2))
    assert batches == [[0]]


async def test_a_relay_that_goes_away_with_a_write_pending_abandons_the_write() -> None:
    log = MemoryEventLog()
    await log.append(MessageDelta(MID, 0, "a"))
    lock = asyncio.Lock()  # as a socket's: held by a write that waits for the connection

    async def write() -> None:
        async with lock:
            await asyncio.Event().wait()

    def deliver(batch: Batch) -> Awaitable[None] | None:
        return eager(write()) if batch[-1].seq == 1 else None

    relaying = asyncio.create_task(log.relay(MID, -1, deliver, batch=10))
    await asyncio.sleep(0.05)
    await log.append(MessageDelta(MID, 1, "b"))
    assert lock.locked()
    relaying.cancel()  # before its task could take the write on
    with pytest.raises(asyncio.CancelledError):
        await relaying
    assert not lock.locked()  # the write was closed, its lock released
