"""The fair FIFO line in front of the model."""

from __future__ import annotations

import asyncio

import pytest

from tokenwire.errors import Unavailable
from tokenwire.providers.queue import FairQueue

pytestmark = pytest.mark.anyio


async def test_first_comer_runs_at_once_and_others_wait_in_order() -> None:
    queue = FairQueue(max_waiting=3)
    first, second, third = queue.join(), queue.join(), queue.join()
    assert (first.granted, first.position) == (True, 0)
    assert (second.granted, second.position) == (False, 1)
    assert (third.granted, third.position) == (False, 2)
    queue.leave(first)
    assert second.granted
    assert third.position == 1
    queue.leave(second)
    assert third.granted
    queue.leave(third)
    assert (queue.running, queue.waiting) == (0, 0)


async def test_leaving_the_line_moves_those_behind_up() -> None:
    queue = FairQueue()
    running, a, b = queue.join(), queue.join(), queue.join()
    queue.leave(a)
    assert (b.position, b.granted) == (1, False)
    queue.leave(running)
    assert b.granted


async def test_waiters_are_woken_on_each_move() -> None:
    queue = FairQueue()
    running, _ahead, me = queue.join(), queue.join(), queue.join()
    seen: list[int] = []

    async def wait() -> None:
        while not me.granted:
            await me.changed()
            seen.append(me.position)

    waiter = asyncio.create_task(wait())
    await asyncio.sleep(0)
    queue.leave(running)  # _ahead now runs; me becomes next
    await asyncio.sleep(0)
    queue.leave(_ahead)
    await asyncio.wait_for(waiter, 30)
    assert seen == [1, 0]


async def test_full_line_refuses_with_retry_after() -> None:
    queue = FairQueue(max_waiting=1, retry_after=7)
    queue.admit()
    queue.join()
    queue.admit()  # the slot is taken but the line has room
    queue.join()
    with pytest.raises(Unavailable) as caught:
        queue.admit()
    assert caught.value.status == 503
    assert caught.value.retry_after == 7
    assert caught.value.code == "queue_full"


async def test_several_slots() -> None:
    queue = FairQueue(slots=2, max_waiting=0)
    a, b = queue.join(), queue.join()
    assert a.granted
    assert b.granted
    with pytest.raises(Unavailable):
        queue.admit()
