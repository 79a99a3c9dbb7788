"""Structured concurrency for a stream: tasks that end together.

A response streams while other tasks watch it (the client's disconnect, a heartbeat): the
first of them to finish ends the others, and none outlives the response (sse-starlette's
shape, on an anyio task group).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

__all__ = ["first_completed"]


async def first_completed(*functions: Callable[[], Awaitable[object]]) -> None:
    """Run ``functions`` concurrently; when the first of them returns, cancel the others.

    Returns once all have stopped. An exception in one cancels the others too and is raised
    (in an ``ExceptionGroup``, as task groups raise); a function that should only be logged
    when it fails catches its own exceptions.
    """
    async with anyio.create_task_group() as group:

        async def run(function: Callable[[], Awaitable[object]]) -> None:
            await function()
            group.cancel_scope.cancel()

        for function in functions:
            group.start_soon(run, function)
