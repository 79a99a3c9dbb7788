"""Consultations (seeds 000 and 001): conversations with a persona and a lifecycle.

A consultation is a conversation of kind ``consultation`` with ``persona`` set and its status
(``active``, ``completed``, ``archived``) in its private metadata. While active, its key names
its persona, so there is one active consultation per persona: the store keeps keys unique
per user, so this holds even when two requests (or two instances) race to create one.
Ending it (complete or archive) frees the persona for a new one. ``goal_id`` is kept as
context for the model.

These are the rules; ``api/dialects/consultation.py`` speaks them over HTTP and WebSocket.
"""

from __future__ import annotations

from typing import Any

from tokenwire.engine import Engine
from tokenwire.engine.references import DIALECT
from tokenwire.errors import BadRequest, Conflict
from tokenwire.ids import UserId
from tokenwire.protocol.dialects.timestamps import iso_seconds
from tokenwire.protocol.options import ByKey
from tokenwire.store import Conversation

KIND = "consultation"
STATUS = "_status"
ACTIVE = "active"
COMPLETED = "completed"
ARCHIVED = "archived"
COMPLETED_AT = "_completed_at"


class ConsultationExists(Conflict):
    """The persona has an active consultation: ``existing``."""

    code = "consultation_exists"

    def __init__(self, existing: Conversation) -> None:
        super().__init__(f"an active consultation with {existing.persona} exists")
        self.existing = existing


def status_of(c: Conversation) -> str:
    return str(c.metadata.get(STATUS, ACTIVE))


def goal_of(c: Conversation) -> str | None:
    goal = c.metadata.get("goal_id")
    return None if goal is None else str(goal)


def _active(persona: str | None) -> ByKey:
    return ByKey(KIND, f"active:{persona}")


async def create(
    engine: Engine, user_id: UserId, persona: str, goal_id: str | None
) -> Conversation:
    """A new active consultation with ``persona``; ``ConsultationExists`` naming the active
    one when there is one."""
    metadata: dict[str, Any] = {DIALECT: KIND, STATUS: ACTIVE}
    if goal_id is not None:
        metadata["goal_id"] = goal_id
    active = _active(persona)
    try:
        return await engine.create_conversation(
            user_id,
            title=f"Consultation with {persona}",
            persona=persona,
            metadata=metadata,
            kind=KIND,
            key=active.key,
        )
    except Conflict:
        existing = await engine.conversation_named(user_id, active)
        if existing is None:  # completed in between: the caller may simply try again
            raise
        raise ConsultationExists(existing) from None


async def listed(
    engine: Engine, user_id: UserId, *, persona: str | None, status: str | None
) -> list[Conversation]:
    """The user's consultations, newest activity first, of ``persona`` and ``status`` when
    given."""
    found: list[Conversation] = []
    before: str | None = None
    while True:
        page = await engine.conversations(user_id, limit=200, before=before, kind=KIND)
        found += [
            c
            for c in page.items
            if (persona is None or c.persona == persona)
            and (status is None or status_of(c) == status)
        ]
        if page.next_before is None:
            return found
        before = page.next_before


async def end(
    engine: Engine, user_id: UserId, c: Conversation, status: str, **changes: Any
) -> Conversation:
    """Set the status (and ``changes``); an ended consultation frees its persona."""
    metadata = {**c.metadata, STATUS: status}
    if status != ACTIVE:
        await engine.unname_conversation(user_id, c.id)
        metadata.setdefault(COMPLETED_AT, iso_seconds(c.updated_at))
    return await engine.update_conversation(user_id, c.id, metadata=metadata, **changes)


async def update(
    engine: Engine,
    user_id: UserId,
    c: Conversation,
    *,
    title: str | None,
    persona: str | None,
    is_archived: bool | None,
) -> Conversation:
    """Rename, or archive (which frees the persona like completing). A consultation keeps
    its persona, and an ended one stays ended: another persona, or ``is_archived: false`` on
    an ended one, is a 400 naming the field."""
    if persona is not None and persona != c.persona:
        raise BadRequest(
            "persona: a consultation keeps its persona; start a new one", code="invalid_persona"
        )
    changes: dict[str, Any] = {} if title is None else {"title": title}
    status = status_of(c)
    if is_archived is False and status != ACTIVE:
        raise BadRequest(
            f"is_archived: a {status} consultation stays {status}; start a new one",
            code="invalid_request",
        )
    if is_archived and status == ACTIVE:
        return await end(engine, user_id, c, ARCHIVED, **changes)
    if changes:
        return await engine.update_conversation(user_id, c.id, **changes)
    return c
