"""The first of a stream's tasks to finish ends the others."""

from __future__ import annotations

import asyncio

import pytest

from tokenwire.tasks import first_completed

pytestmark = pytest.mark.anyio


async def test_the_first_to_return_cancels_the_rest() -> None:
    cancelled: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.01)

    async def forever(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    async with asyncio.timeout(30):
        await first_completed(lambda: forever("a"), quick, lambda: forever("b"))
    assert sorted(cancelled) == ["a", "b"]


async def test_a_failure_cancels_the_rest_and_is_raised() -> None:
    cancelled: list[str] = []

    async def broken() -> None:
        raise RuntimeError("pump broke")

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append("listener")
            raise

    with pytest.RaisesGroup(pytest.RaisesExc(RuntimeError, match="pump broke")):
        async with asyncio.timeout(30):
            await first_completed(broken, forever)
    assert cancelled == ["listener"]
