"""Pick the event log by URL: none -> in-process; ``redis://`` -> Redis Streams."""

from __future__ import annotations

import importlib
from typing import cast

from tokenwire.log.base import EventLog
from tokenwire.log.memory import MemoryEventLog
from tokenwire.settings import Settings

# scheme -> "module:class"; imported only when used, so the default needs no Redis client.
SCHEMES = {
    "redis": "tokenwire.log.redis:RedisEventLog",
    "rediss": "tokenwire.log.redis:RedisEventLog",
}


def create_event_log(settings: Settings) -> EventLog:
    if not settings.redis_url:
        return MemoryEventLog(ttl_s=settings.log_ttl_s)
    scheme = settings.redis_url.split(":", 1)[0]
    module_name, _, attr = SCHEMES[scheme].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cast(EventLog, cls.from_settings(settings))
