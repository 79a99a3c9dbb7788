"""What is known about the connection a piece of work runs for.

The traffic middleware sets it for each request or socket. Tasks started while serving it
(the reply's run, a socket's followers, an SSE pump) copy the context when they are created,
so the engine's hooks can tell which request started a reply and which connection follows
one, without the engine knowing about connections.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

from tokenwire.ids import MessageId

Transport = Literal["http", "sse", "websocket"]


@dataclass(slots=True)
class Connection:
    request_id: str
    transport: Transport
    followed: set[MessageId] = field(default_factory=set)  # replies this connection follows


# A ContextVar holds one value per context, not per process: two apps never see each other's.
current: ContextVar[Connection | None] = ContextVar("tokenwire_connection", default=None)
