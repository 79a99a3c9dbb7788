"""An append whose answer from Redis is lost: Redis ran it, the connection dropped before the
answer came back, and followers may already have read the event.

A small TCP proxy (``tests/helpers/redis_proxy.py``) sits between the engine and a real Redis
and drops the connection when Redis answers one chosen append (``EVALSHA``). What happens next is
what a restart or a network drop leaves: the client's own retry reaching a Redis that kept
the event, a Redis still down, or a Redis that came back empty. Whatever the run does, the
stored reply must hold every event the log took, since a follower may have shown it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.helpers.redis_proxy import ReplyDropper
from tokenwire.engine import Engine
from tokenwire.engine.config import EngineConfig
from tokenwire.ids import MessageId
from tokenwire.log.redis import RedisEventLog
from tokenwire.protocol.events import Event, MessageDelta, decode, is_terminal
from tokenwire.protocol.options import ById
from tokenwire.providers.scripted import ScriptedProvider
from tokenwire.redis import connect
from tokenwire.settings import Settings
from tokenwire.store import SQLStore
from tokenwire.store.records import Message, MessageStatus

pytestmark = pytest.mark.anyio
TEXT = " ".join(f"word{i}" for i in range(12))
DEADLINE_S = 60


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Setup:
    def __init__(self, engine: Engine, proxy: ReplyDropper, redis: Redis, key: str) -> None:
        self.engine = engine
        self.proxy = proxy
        self.redis = redis  # straight to Redis, past the proxy
        self._key = key

    def key(self, message_id: str) -> str:
        return self._key + message_id

    async def logged(self, message_id: str) -> list[Event]:
        """The reply's stream as Redis holds it."""
        entries = await self.redis.xrange(self.key(message_id))
        return [decode(fields[b"e"]) for _, fields in entries]

    async def start_reply(self) -> Message:
        user, _ = await self.engine.store.create_user("u")
        conversation = await self.engine.store.create_conversation(user.id, title="t")
        turn = await self.engine.start_turn(user.id, ById(conversation.id), "hi")
        return turn.assistant_message

    async def wait_for_seq(self, message_id: str, seq: int) -> None:
        async def reached() -> bool:
            return any(e.seq >= seq for e in await self.logged(message_id))

        await until(reached)

    async def stored(self, reply: Message) -> Message:
        return await self.engine.store.get_message(reply.user_id, reply.id)

    async def ended(self, reply: Message) -> Message:
        """The stored reply once its run is over."""
        run = self.engine.runs.get(MessageId(reply.id))
        if run is not None and run.task is not None:
            await asyncio.wait_for(asyncio.shield(run.task), DEADLINE_S)
        return await self.stored(reply)


@pytest.fixture
async def setup(tmp_path: Path, redis_server: str, redis_prefix: str) -> AsyncIterator[Setup]:
    direct = Redis.from_url(redis_server)
    async with ReplyDropper(redis_server) as proxy:
        # The client the server makes, with its retry of a dropped connection.
        events = RedisEventLog(connect(proxy.url), prefix=redis_prefix, ttl_s=60)
        store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
        await store.migrate()
        provider = ScriptedProvider(text=TEXT, chunk_words=1, delay_ms=40)
        config = EngineConfig.from_settings(Settings(data_dir=tmp_path))
        engine = Engine(config=config, store=store, events=events, provider=provider)
        await engine.start()
        try:
            yield Setup(engine, proxy, direct, events.key(""))
        finally:
            proxy.refusing = False
            await engine.shutdown()
            await store.close()
            with contextlib.suppress(Exception):
                await events.close()
            await direct.aclose()


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait for ``check()`` by the clock, with a deadline generous for a busy machine."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {DEADLINE_S} s")


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, MessageDelta))


async def test_a_retried_append_that_had_landed_goes_on_without_a_gap_or_a_double(
    setup: Setup,
) -> None:
    reply = await setup.start_reply()
    await setup.wait_for_seq(reply.id, 3)
    setup.proxy.arm(b"EVALSHA")
    await asyncio.wait_for(setup.proxy.dropped.wait(), DEADLINE_S)

    stored = await setup.ended(reply)

    # The client retried the append on a new connection; Redis had it already.
    logged = await setup.logged(reply.id)
    assert [e.seq for e in logged] == list(range(len(logged)))
    assert is_terminal(logged[-1])
    assert (stored.status, stored.content) == (MessageStatus.COMPLETE, TEXT)
    assert text_of(logged) == TEXT


async def test_an_append_redis_took_before_it_went_down_stays_in_the_stored_reply(
    setup: Setup,
) -> None:
    reply = await setup.start_reply()
    await setup.wait_for_seq(reply.id, 3)
    setup.proxy.arm(b"EVALSHA")
    setup.proxy.on_drop = _set(setup.proxy, refusing=True)  # and the retries find it down
    await asyncio.wait_for(setup.proxy.dropped.wait(), DEADLINE_S)

    async def saved() -> bool:
        return (await setup.stored(reply)).status is not MessageStatus.STREAMING

    await until(saved)
    setup.proxy.refusing = False  # back before the run's last try at its terminal event

    stored = await setup.ended(reply)

    logged = await setup.logged(reply.id)
    assert stored.status is MessageStatus.ERROR
    assert stored.error is not None
    assert stored.error.code == "unavailable"
    # Every delta Redis took is stored, the one whose answer was lost included, and the
    # terminal event follows it with the next seq.
    assert [e.seq for e in logged] == list(range(len(logged)))
    assert is_terminal(logged[-1])
    assert logged[-1].seq == stored.last_seq
    assert stored.content == text_of(logged)
    assert TEXT.startswith(stored.content)
    assert stored.content != TEXT


async def test_an_append_lost_with_a_redis_that_came_back_empty_stays_in_the_stored_reply(
    setup: Setup,
) -> None:
    reply = await setup.start_reply()
    await setup.wait_for_seq(reply.id, 3)
    took: list[Event] = []

    async def restarted_empty() -> None:
        took.extend(await setup.logged(reply.id))  # what followers may have read
        await setup.redis.delete(setup.key(reply.id))

    setup.proxy.on_drop = restarted_empty
    setup.proxy.arm(b"EVALSHA")
    await asyncio.wait_for(setup.proxy.dropped.wait(), DEADLINE_S)

    stored = await setup.ended(reply)

    assert stored.status is MessageStatus.ERROR
    assert took
    assert not is_terminal(took[-1])
    assert stored.content == text_of(took)
    assert stored.last_seq == took[-1].seq + 1  # the terminal's seq, after every delta
    assert await setup.logged(reply.id) == []  # readers find the stream gone, read the row


def _set(proxy: ReplyDropper, *, refusing: bool) -> Callable[[], Awaitable[None]]:
    async def change() -> None:
        proxy.refusing = refusing

    return change


async def test_an_append_that_never_reached_redis_is_stored_and_followers_read_it_there(
    setup: Setup,
) -> None:
    reply = await setup.start_reply()
    following = setup.engine.follow(reply, -1)
    shown: list[Event] = []
    async for batch in following:
        shown.extend(batch)
        if shown[-1].seq >= 3:
            break
    logged: list[Event] = []

    async def lost() -> None:
        if not logged:  # the first loss: the log holds what it will ever get of the deltas
            logged.extend(await setup.logged(reply.id))

    # The next append and both of the client's retries are lost before Redis sees them.
    setup.proxy.on_drop = lost
    setup.proxy.arm(b"EVALSHA", times=3, reaching=False)
    async with asyncio.timeout(DEADLINE_S):
        async for batch in following:
            shown.extend(batch)

    stored = await setup.ended(reply)

    assert stored.status is MessageStatus.ERROR
    assert stored.error is not None
    assert stored.error.code == "unavailable"
    # The run kept the delta it could not append: its terminal event came a seq past the
    # log's next, the log dropped the stream, and the follower read the rest from the row.
    assert not is_terminal(logged[-1])
    assert stored.last_seq == logged[-1].seq + 2
    deltas = [e for e in logged if isinstance(e, MessageDelta)]
    assert len(stored.marks) == len(deltas) + 1  # a mark per delta, the one kept included
    assert stored.content.startswith(text_of(logged))
    assert len(stored.content) > len(text_of(logged))
    assert is_terminal(shown[-1])
    assert shown[-1].seq == stored.last_seq
    assert text_of(shown) == stored.content
    assert TEXT.startswith(stored.content)
    assert await setup.logged(reply.id) == []
