"""Checkpoints of a running reply append what is new, and the row always reads as the run's
text and marks at the checkpoint: a resume from it is exact to the byte."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tokenwire.engine import replay
from tokenwire.engine.hooks import Hooks, ReplyInfo
from tokenwire.engine.run import Run
from tokenwire.ids import MessageId
from tokenwire.log import MemoryEventLog
from tokenwire.providers import ChatTurn, GenerationRequest
from tokenwire.providers.scripted import ScriptedProvider
from tokenwire.store import SQLStore
from tokenwire.store.records import Message, MessageStatus

pytestmark = pytest.mark.anyio

WORDS = " ".join(f"wörd{i}" for i in range(40))
SLOW = " ".join(f"wörd{i}" for i in range(12))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLStore]:
    s = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await s.migrate()
    yield s
    await s.close()


async def started_run(
    store: SQLStore, log: MemoryEventLog, text: str = WORDS, delay_ms: int = 10
) -> tuple[Run, Message]:
    user, _ = await store.create_user("u")
    conversation = await store.create_conversation(user.id)
    turn = await store.add_turn(user.id, conversation.id, content="hi")
    reply = turn.assistant_message
    await log.append(replay.start_event(reply, turn.user_message))

    async def request() -> GenerationRequest:
        return GenerationRequest([ChatTurn("user", "hi")])

    run = Run(
        message_id=reply.id,
        conversation_id=conversation.id,
        provider=ScriptedProvider(text=text, chunk_words=1, delay_ms=delay_ms),
        store=store,
        events=log,
        request=request,
        started=0.0,
        on_done=lambda _run: None,
        info=ReplyInfo(reply.id, conversation.id, user.id, "scripted", "scripted"),
        hooks=Hooks(),
    )
    run.start()
    return run, reply


async def reached(log: MemoryEventLog, mid: MessageId, seq: int) -> None:
    """Wait until the log holds seq ``seq`` of the reply (or its end)."""
    async for batch in log.read(mid, -1, batch=512):
        if batch[-1].seq >= seq:
            return


async def saved(store: SQLStore, mid: MessageId) -> Message:
    found = await store.find_message(mid)
    assert found is not None
    return found


async def test_appended_checkpoints_read_as_the_whole_reply(store: SQLStore) -> None:
    log = MemoryEventLog()
    # A word every 200 ms: the reply is still running while the checkpoints are compared.
    run, reply = await started_run(store, log, SLOW, delay_ms=200)
    assert run.task is not None
    appended = compared = 0
    for seq in (2, 4, 6, 8):
        await reached(log, reply.id, seq)
        checkpoint = run.take_checkpoint()
        assert checkpoint is not None
        appended += checkpoint.after is not None
        expected = (run.content, tuple(run._marks), run.seq)
        await store.checkpoint([checkpoint])
        row = await saved(store, reply.id)
        if row.status is MessageStatus.STREAMING:
            compared += 1
            assert (row.content, row.marks, row.last_seq) == expected
            # What a client that saw seq 1 misses is exactly the rest of the text so far.
            rest = replay.text_after(row, 1)
            assert rest is not None
            assert row.content == "wörd0" + rest.text
    assert appended == 4  # every checkpoint appended what was new; none rewrote the reply
    assert compared >= 1
    await run.task
    final = await saved(store, reply.id)
    assert final.status is MessageStatus.COMPLETE
    assert final.content == SLOW
    assert len(final.marks) == 12


async def test_a_lost_checkpoint_is_made_good_by_a_whole_one(store: SQLStore) -> None:
    log = MemoryEventLog()
    run, reply = await started_run(store, log)
    assert run.task is not None
    await reached(log, reply.id, 5)
    first = run.take_checkpoint()
    assert first is not None
    assert first.after == 0
    await store.checkpoint([first])
    await reached(log, reply.id, 15)
    lost = run.take_checkpoint()
    assert lost is not None
    assert lost.after is not None
    run.checkpoint_failed()  # never written: the row still ends where ``first`` left it
    await reached(log, reply.id, 25)
    whole = run.take_checkpoint()
    assert whole is not None
    assert whole.after is None
    await store.checkpoint([whole])
    row = await saved(store, reply.id)
    if row.status is MessageStatus.STREAMING:
        assert row.content == whole.content
        assert WORDS.startswith(row.content)
        assert row.marks == tuple(whole.marks)
    await run.task
    assert (await saved(store, reply.id)).content == WORDS
