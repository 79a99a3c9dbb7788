"""Readiness: can this instance serve? The store, the event log, the provider and (when they
are in Redis) the limit counters are each checked, at once and each within a time limit.

A check is whatever the part offers: ``SQLStore.ping``; an event log's or a provider's
``ping()`` coroutine when it has one, else that of the Redis client it holds (the in-process
log has nothing to lose touch with).
A fallback chain is ready while any of its providers is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tokenwire.engine import Engine
from tokenwire.ops.counters import Counters, MemoryCounters

__all__ = ["CHECK_TIMEOUT_S", "readiness"]

CHECK_TIMEOUT_S = 2.0

Check = Callable[[], Awaitable[None]]


async def _run(check: Check | None) -> dict[str, Any]:
    if check is None:
        return {"status": "ok"}
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except TimeoutError:
        return {"status": "failing", "error": f"no answer within {CHECK_TIMEOUT_S:g} s"}
    except Exception as exc:
        # The type and the first line only: enough to act on, and no connection strings.
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        return {"status": "failing", "error": f"{type(exc).__name__}: {detail}".rstrip(": ")}
    return {"status": "ok"}


def _ping(part: object) -> Check | None:
    """The part's ``ping()``, else that of the Redis client it holds (``.redis``)."""
    for holder in (part, getattr(part, "redis", None)):
        ping = getattr(holder, "ping", None)
        if callable(ping):
            return ping  # type: ignore[no-any-return]
    return None


async def _provider(engine: Engine) -> dict[str, Any]:
    provider = engine.provider
    inner = list(getattr(provider, "providers", ()))
    if not inner:
        return {**await _run(_ping(provider)), "name": provider.name, "model": provider.model}
    results = await asyncio.gather(*(_run(_ping(p)) for p in inner))
    chain = [
        {**result, "name": p.name, "model": p.model}
        for p, result in zip(inner, results, strict=True)
    ]
    ok = any(result["status"] == "ok" for result in results)
    return {"status": "ok" if ok else "failing", "name": provider.name, "chain": chain}


async def readiness(engine: Engine, counters: Counters) -> tuple[bool, dict[str, Any]]:
    """Whether every part is ok, and the report: ``{"status", "checks": {name: {...}}}``."""
    names = ["store", "event_log", "provider"]
    jobs: list[Awaitable[dict[str, Any]]] = [
        _run(engine.store.ping),
        _run(_ping(engine.events)),
        _provider(engine),
    ]
    if not isinstance(counters, MemoryCounters):
        names.append("limits")
        jobs.append(_run(counters.ping))
    results = await asyncio.gather(*jobs)
    checks = dict(zip(names, results, strict=True))
    ready = all(check["status"] == "ok" for check in checks.values())
    return ready, {"status": "ok" if ready else "failing", "checks": checks}
