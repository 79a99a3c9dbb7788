"""The resources of ``/api/v1`` as the server writes them: records to ``protocol/resources``
Structs, encoded by msgspec, and described in ``/openapi.json`` by the same Structs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from fastapi import Depends, FastAPI
from starlette.responses import Response

from tokenwire.engine import Engine
from tokenwire.ids import UserId
from tokenwire.personas import Personas
from tokenwire.protocol import resources as wire
from tokenwire.store.convert import isoformat
from tokenwire.store.records import Conversation, Message

__all__ = [
    "Paged",
    "Resource",
    "answers",
    "conversation",
    "install",
    "message",
    "personas",
    "shown",
]

_REF = "#/components/schemas/{name}"


async def _window(limit: int = 100, offset: int = 0) -> wire.Window:
    return wire.Window.of(limit, offset)  # inline, not in the thread pool (``api/deps.py``)


# A listing paged as the seeds' apps page theirs: ``?limit=`` (100) and ``?offset=`` (0).
Paged = Annotated[wire.Window, Depends(_window)]


class Resource(Response):
    """A JSON answer encoded from a Struct of ``protocol/resources``."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


def answers(shape: Any, status: int = 200, description: str = "") -> dict[int | str, Any]:
    """The ``responses=`` of a route that answers ``status`` with ``shape``."""
    (ref,), _ = msgspec.json.schema_components([shape], ref_template=_REF)
    return {
        status: {
            "description": description or "Successful Response",
            "content": {"application/json": {"schema": ref}},
        }
    }


def install(app: FastAPI) -> None:
    """Add the Structs' schemas to the app's ``/openapi.json`` components."""
    _, components = msgspec.json.schema_components(wire.RESOURCES, ref_template=_REF)
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def conversation(c: Conversation) -> wire.Conversation:
    return wire.Conversation(
        id=c.id,
        title=c.title,
        persona=c.persona,
        model=c.model,
        metadata=c.metadata,
        kind=c.kind,
        key=c.key,
        created_at=isoformat(c.created_at),
        updated_at=isoformat(c.updated_at),
        current_leaf_id=c.current_leaf_id,
    )


def message(m: Message) -> wire.Message:
    """A message as clients see it. ``seq`` is the last event its ``content`` includes: resume
    a streaming reply with ``after=seq``."""
    return wire.Message(
        id=m.id,
        conversation_id=m.conversation_id,
        role=m.role,
        content=m.content,
        status=wire.ReplyStatus(m.status.value),
        seq=m.last_seq,
        client_message_id=m.client_message_id,
        reply_to=m.reply_to,
        model=m.model,
        finish_reason=m.finish_reason,
        usage=m.usage,
        timings=m.timings,
        error=m.error,
        metadata=m.metadata,
        images=list(m.images),
        created_at=isoformat(m.created_at),
        updated_at=isoformat(m.updated_at),
        parent_id=m.parent_id,
        siblings=siblings(m),
    )


async def shown(engine: Engine, user_id: UserId, cid: str) -> list[wire.Message]:
    """The conversation's messages that are answers, oldest first: the history the seeds'
    apps show, which take every item for an answer (``Engine.transcript``)."""
    return [message(m) for m in await engine.transcript(user_id, cid, answers_only=True)]


def siblings(m: Message) -> wire.Siblings:
    ids: list[str] = list(m.siblings) or [m.id]
    return wire.Siblings(ids=ids, index=ids.index(m.id) if m.id in ids else 0)


def personas(known: Personas) -> wire.PersonaList:
    return wire.PersonaList(
        items=[
            wire.Persona(
                name=p.name,
                description=p.description,
                system_prompt=p.system_prompt,
                model=p.model,
                temperature=p.temperature,
            )
            for p in known
        ],
        default=known.default,
    )
