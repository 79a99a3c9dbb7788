"""The notes sockets leave for a reconnect (``api/deliveries.py``), on a real store: a note is
taken once, by the next socket, and never lingers for a later one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tokenwire.api import deliveries
from tokenwire.api.deliveries import LEFT, Left, Notes, Watch
from tokenwire.engine import Engine
from tokenwire.engine.config import EngineConfig
from tokenwire.ids import MessageId, UserId, uuid7
from tokenwire.log import MemoryEventLog
from tokenwire.providers.scripted import ScriptedProvider
from tokenwire.settings import Settings
from tokenwire.store import SQLStore
from tokenwire.store.records import Conversation

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class SlowWrites(Engine):
    """An engine whose store takes 200 ms to write a conversation: the race between the old
    socket writing its note and the new one clearing it, forced to its worst order."""

    async def update_conversation(self, user_id: UserId, cid: str, **changes: Any) -> Conversation:
        await asyncio.sleep(0.2)
        return await super().update_conversation(user_id, cid, **changes)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    store = SQLStore(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await store.migrate()
    config = EngineConfig.from_settings(Settings(data_dir=tmp_path))
    engine = SlowWrites(
        config=config, store=store, events=MemoryEventLog(), provider=ScriptedProvider()
    )
    await engine.start()
    yield engine
    await engine.shutdown()
    await store.close()


async def test_a_note_taken_by_the_next_socket_is_not_left_for_a_later_one(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However slow this machine, the new socket waits for the old one here.
    monkeypatch.setattr(deliveries, "SIBLING_WAIT_S", 60.0)
    user, _ = await engine.store.create_user("u")
    conversation = await engine.store.create_conversation(user.id, title="t")
    cid = conversation.id
    notes = Notes()
    reply = MessageId(uuid7())
    old = Watch()
    notes.opened(cid, old)
    old.current = (reply, 8)  # mid-reply, eight events written

    # The app reconnects before the server has seen its old socket close: the new socket
    # waits for the old one while that one closes and notes where it stopped.
    new = Watch()
    notes.opened(cid, new)
    opened = await engine.conversation(user.id, cid)
    taking = asyncio.create_task(notes.take(engine, opened, new))
    await asyncio.sleep(0.05)
    assert not taking.done()  # waiting for its sibling
    await notes.closed(engine, user.id, cid, old)
    assert await asyncio.wait_for(taking, 30) == Left(reply, 8)

    stored = await engine.conversation(user.id, cid)
    assert LEFT not in stored.metadata
    await notes.closed(engine, user.id, cid, new)  # ended its reply: leaves nothing
    later = Watch()
    notes.opened(cid, later)
    assert await notes.take(engine, await engine.conversation(user.id, cid), later) is None


async def test_a_socket_that_opens_while_the_old_one_writes_its_note_waits_for_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old socket is still writing its note (200 ms here) when the new one opens: the
    new one must not start the reply over."""
    monkeypatch.setattr(deliveries, "SIBLING_WAIT_S", 60.0)
    user, _ = await engine.store.create_user("u")
    cid = (await engine.store.create_conversation(user.id, title="t")).id
    notes = Notes()
    reply = MessageId(uuid7())
    old = Watch()
    notes.opened(cid, old)
    old.current = (reply, 5)
    closing = asyncio.create_task(notes.closed(engine, user.id, cid, old))
    await asyncio.sleep(0.05)
    assert not closing.done()  # its write takes 200 ms

    new = Watch()
    notes.opened(cid, new)
    assert await notes.take(engine, await engine.conversation(user.id, cid), new) == Left(reply, 5)
    await closing
    assert LEFT not in (await engine.conversation(user.id, cid)).metadata


async def test_a_note_is_taken_once_from_the_store_after_a_restart(engine: Engine) -> None:
    """A socket on a new process (or another instance) finds the note in the conversation."""
    user, _ = await engine.store.create_user("u")
    conversation = await engine.store.create_conversation(user.id, title="t")
    cid = conversation.id
    reply = MessageId(uuid7())
    old = Watch()
    before = Notes()
    before.opened(cid, old)
    old.current = (reply, 3)
    await before.closed(engine, user.id, cid, old)

    after = Notes()  # the process restarted: nothing in memory
    first = Watch()
    after.opened(cid, first)
    assert await after.take(engine, await engine.conversation(user.id, cid), first) == Left(
        reply, 3
    )
    second = Watch()
    after.opened(cid, second)
    assert await after.take(engine, await engine.conversation(user.id, cid), second) is None
