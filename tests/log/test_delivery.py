"""``eager``: an awaitable run at once, its rest (if it had to wait) left to a task."""

from __future__ import annotations

import asyncio

import pytest

from tokenwire.log.delivery import abandon, eager

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_step_that_need_not_wait_is_done_before_eager_returns() -> None:
    done: list[str] = []

    async def write() -> None:
        done.append("written")

    assert eager(write()) is None
    assert done == ["written"]


async def test_a_step_that_waits_leaves_its_rest_to_whoever_awaits_it() -> None:
    done: list[str] = []
    writable = asyncio.Event()

    async def write() -> None:
        done.append("started")
        await writable.wait()
        done.append("written")

    rest = eager(write())
    assert rest is not None
    assert done == ["started"]
    waiting = asyncio.create_task(asyncio.wait_for(rest, 30))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    writable.set()
    await waiting
    assert done == ["started", "written"]


async def test_cancelling_the_task_that_awaits_the_rest_reaches_the_step() -> None:
    outcome: list[str] = []

    async def write() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    rest = eager(write())
    assert rest is not None

    async def take_on() -> None:
        await rest

    waiting = asyncio.create_task(take_on())
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert outcome == ["cancelled"]


async def test_a_step_that_fails_at_once_raises_from_eager() -> None:
    async def write() -> None:
        raise ConnectionResetError("gone")

    with pytest.raises(ConnectionResetError):
        eager(write())


async def test_an_abandoned_write_gives_a_lock_it_was_granted_to_the_next_in_line() -> None:
    lock = asyncio.Lock()
    await lock.acquire()  # another write is under way
    written: list[str] = []

    async def write(name: str) -> None:
        async with lock:
            written.append(name)

    rest = eager(write("abandoned"))  # first in line for the lock
    assert rest is not None
    after = asyncio.create_task(write("next"))
    await asyncio.sleep(0.01)
    lock.release()  # the lock is the abandoned write's now, which nobody will run
    abandon(rest)
    await asyncio.wait_for(after, 30)
    assert written == ["next"]
    assert not lock.locked()
