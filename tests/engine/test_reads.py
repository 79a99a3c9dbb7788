"""What the engine reads for a socket told that a reply started: a reply running here is the
row its run started, with its live text, and costs no statement; any other is read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tokenwire.engine import Engine
from tokenwire.engine.config import EngineConfig
from tokenwire.ids import MessageId, uuid7
from tokenwire.log import MemoryEventLog
from tokenwire.protocol.options import ById
from tokenwire.providers.scripted import ScriptedProvider
from tokenwire.settings import Settings
from tokenwire.store import SQLStore
from tokenwire.store.records import MessageStatus

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await store.migrate()
    # A word every 50 ms: the reply runs while the test looks at it.
    provider = ScriptedProvider(text="one two three four five six", chunk_words=1, delay_ms=50)
    config = EngineConfig.from_settings(Settings(data_dir=tmp_path))
    engine = Engine(config=config, store=store, events=MemoryEventLog(), provider=provider)
    await engine.start()
    yield engine
    await engine.shutdown()
    await store.close()


class Statements:
    """The statements the store's engine runs while counting."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[str] = []

        def count(*args: Any) -> None:
            self.seen.append(args[2])

        event.listen(engine.store.engine.sync_engine, "before_cursor_execute", count)


async def test_a_running_reply_is_found_without_a_read_and_an_ended_one_as_stored(
    engine: Engine,
) -> None:
    user, _ = await engine.store.create_user("u")
    conversation = await engine.store.create_conversation(user.id, title="t")
    turn = await engine.start_turn(user.id, ById(conversation.id), "hi")
    reply = turn.assistant_message
    run = engine.runs[reply.id]
    async for batch in engine.follow(reply, -1):
        if any(e.seq >= 2 for e in batch):
            break  # two words in: the run has live text its row has not
    statements = Statements(engine)

    found = await engine.find_reply(reply.id)

    assert statements.seen == []
    assert found is not None
    assert (found.id, found.conversation_id, found.reply_to) == (
        reply.id,
        conversation.id,
        turn.user_message.id,
    )
    assert found.status is MessageStatus.STREAMING
    assert found.content == run.content
    assert found.content.startswith("one two")
    assert found.last_seq == run.seq

    assert run.task is not None
    await asyncio.wait_for(asyncio.shield(run.task), 60)
    ended = await engine.find_reply(reply.id)
    assert statements.seen  # no run now: the row was read
    assert ended is not None
    assert (ended.status, ended.content) == (MessageStatus.COMPLETE, "one two three four five six")
    assert await engine.find_reply(MessageId(uuid7())) is None
