"""Consultations (seeds 000 and 001): conversations with a persona and a lifecycle.

A consultation is a conversation of kind ``consultation`` with ``persona`` set and its status
(``active``, ``completed``, ``archived``) in its private metadata. While active, its key names
its persona, so there is one active consultation per persona: the store keeps keys unique
per user, so this holds even when two requests (or two instances) race to create one.
Ending it (complete or archive) frees the persona for a new one. ``goal_id`` is kept as
context for the model.

These are the rules, applied to one user's consultations by ``Consultations``, which hands
each out as the REST shapes show it (``ConsultationView``); ``api/dialects/consultation.py``
speaks them over HTTP and WebSocket.
"""

from __future__ import annotations

from typing import Any

from tokenwire.engine import Engine
from tokenwire.engine.references import DIALECT
from tokenwire.errors import BadRequest, Conflict
from tokenwire.ids import UserId
from tokenwire.protocol.dialects.consultation_rest import ConsultationView, Shape, Update
from tokenwire.protocol.dialects.timestamps import iso_seconds
from tokenwire.protocol.options import ByKey
from tokenwire.protocol.resources import Window
from tokenwire.store import Conversation, Message

KIND = "consultation"
STATUS = "_status"
ACTIVE = "active"
COMPLETED = "completed"
ARCHIVED = "archived"
COMPLETED_AT = "_completed_at"


class ConsultationExists(Conflict):
    """The persona has an active consultation: ``existing``."""

    code = "consultation_exists"

    def __init__(self, persona: str, existing: ConsultationView) -> None:
        super().__init__(f"an active consultation with {persona} exists")
        self.existing = existing


def status_of(c: Conversation) -> str:
    return str(c.metadata.get(STATUS, ACTIVE))


def goal_of(c: Conversation) -> str | None:
    goal = c.metadata.get("goal_id")
    return None if goal is None else str(goal)


def _active(persona: str | None) -> ByKey:
    return ByKey(KIND, f"active:{persona}")


class Consultations:
    """One user's consultations under the rules above, each handed out as a view, for the
    REST shape ``form`` (``protocol/dialects/consultation_rest.py``) to show.

    ``form.finished_only`` is how the app sees them: each view counts the finished messages (a
    read of the transcript), a listing is a window of them, and a history is the finished
    messages only, all of them for the shape to cut its window. Otherwise views count
    nothing, a listing has every consultation and a history is a page of every message.
    """

    def __init__(self, engine: Engine, user_id: UserId, form: Shape) -> None:
        self.engine, self.user_id, self.form = engine, user_id, form

    async def view(self, c: Conversation) -> ConsultationView:
        shown = (
            await self.engine.transcript(c.user_id, c.id, answers_only=True)
            if self.form.finished_only
            else []
        )
        completed = c.metadata.get(COMPLETED_AT)
        return ConsultationView(
            id=c.id,
            user_id=c.user_id,
            persona=c.persona,
            status=status_of(c),
            goal_id=goal_of(c),
            created_at=c.created_at,
            updated_at=c.updated_at,
            completed_at=None if completed is None else str(completed),
            message_count=len(shown),
            last_message_at=shown[-1].created_at if shown else None,
        )

    async def get(self, cid: str) -> ConsultationView:
        return await self.view(await self.engine.conversation(self.user_id, cid))

    async def create(self, persona: str, goal_id: str | None) -> ConsultationView:
        """A new active consultation with ``persona`` (one the server knows, else a 422
        naming those it does); ``ConsultationExists`` naming the active one when there is
        one."""
        self.engine.personas.require(persona)
        metadata: dict[str, Any] = {DIALECT: KIND, STATUS: ACTIVE}
        if goal_id is not None:
            metadata["goal_id"] = goal_id
        active = _active(persona)
        try:
            made = await self.engine.create_conversation(
                self.user_id,
                title=f"Consultation with {persona}",
                persona=persona,
                metadata=metadata,
                kind=KIND,
                key=active.key,
            )
        except Conflict:
            existing = await self.engine.conversation_named(self.user_id, active)
            if existing is None:  # completed in between: the caller may simply try again
                raise
            raise ConsultationExists(persona, await self.view(existing)) from None
        return await self.view(made)

    async def listed(
        self, window: Window, *, persona: str | None, status: str | None
    ) -> tuple[list[ConsultationView], int]:
        """The user's consultations, newest activity first, of ``persona`` and ``status``
        when given, and how many there are."""
        found = await self._all(persona, status)
        shown = window.cut(found) if self.form.finished_only else found
        return [await self.view(c) for c in shown], len(found)

    async def _all(self, persona: str | None, status: str | None) -> list[Conversation]:
        found: list[Conversation] = []
        before: str | None = None
        while True:
            page = await self.engine.conversations(
                self.user_id, limit=200, before=before, kind=KIND
            )
            found += [
                c
                for c in page.items
                if (persona is None or c.persona == persona)
                and (status is None or status_of(c) == status)
            ]
            if page.next_before is None:
                return found
            before = page.next_before

    async def history(
        self, cid: str, *, limit: int, before: str | None
    ) -> tuple[list[Message], str | None]:
        """The consultation's messages, oldest first, and the ``before`` of the page before
        them; finished only: all of them, and no page before."""
        if self.form.finished_only:
            return await self.engine.transcript(self.user_id, cid, answers_only=True), None
        page = await self.engine.messages(self.user_id, cid, limit=limit, before=before)
        return page.items, page.next_before

    async def complete(self, cid: str) -> ConsultationView:
        """End the consultation; its persona may then start a new one."""
        c = await self.engine.conversation(self.user_id, cid)
        return await self.view(await self._end(c, COMPLETED))

    async def update(self, cid: str, change: Update) -> ConsultationView:
        """Rename, or archive (which frees the persona like completing). A consultation
        keeps its persona, and an ended one stays ended: another persona (a 422 if the
        server knows no such persona), or ``is_archived: false`` on an ended one, is a 400
        naming the field."""
        c = await self.engine.conversation(self.user_id, cid)
        if change.persona is not None and change.persona != c.persona:
            self.engine.personas.require(change.persona)
            raise BadRequest(
                "persona: a consultation keeps its persona; start a new one",
                code="invalid_persona",
            )
        changes: dict[str, Any] = {} if change.title is None else {"title": change.title}
        status = status_of(c)
        if change.is_archived is False and status != ACTIVE:
            raise BadRequest(
                f"is_archived: a {status} consultation stays {status}; start a new one",
                code="invalid_request",
            )
        if change.is_archived and status == ACTIVE:
            c = await self._end(c, ARCHIVED, **changes)
        elif changes:
            c = await self.engine.update_conversation(self.user_id, c.id, **changes)
        return await self.view(c)

    async def _end(self, c: Conversation, status: str, **changes: Any) -> Conversation:
        """Set the status (and ``changes``); an ended consultation frees its persona."""
        metadata = {**c.metadata, STATUS: status}
        if status != ACTIVE:
            await self.engine.unname_conversation(self.user_id, c.id)
            metadata.setdefault(COMPLETED_AT, iso_seconds(c.updated_at))
        return await self.engine.update_conversation(
            self.user_id, c.id, metadata=metadata, **changes
        )
