"""The consultation REST bodies as the seeds' iOS app decodes them (seeds 000 and 001).

The seed documents show no REST body; the app's own source does, and it is what this
module writes (``ConsultationWebSocketManager`` and ``ChatBackendService`` of the Lume app):

    201 POST /consultations        {"data": {"consultation": <consultation>}}
    200 GET  /consultations/{id}   {"data": <consultation>}
    200 GET  /consultations        {"data": {"consultations", "total_count", "limit", "offset"}}
    200 GET  .../messages          {"data": {"messages", "total", "has_more"}}
    201 POST .../messages          {"data": {"user_message", "assistant_message"}}
    409 POST /consultations        {"success": false, "error": {"code", "message",
                                    "details": {"existing_consultation_id", "persona",
                                                "status", "can_continue", "goal_id"}}}
    4xx/5xx                         {"success": false, "error": {"code", "message"}}

A consultation carries the keys the app requires (``id``, ``user_id``, ``persona``,
``status``, ``message_count``, ``created_at``, ``updated_at``); every date is whole seconds,
because the app decodes with ``.iso8601``, which rejects fractional seconds.

The shape tokenwire served before (bare objects, ``{"error": <message>, "code"}``) is still
served to a request with ``Prefer: tokenwire-shape=bare`` (RFC 7240), for clients written
against it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import msgspec

from tokenwire.errors import BadRequest, TokenwireError
from tokenwire.protocol.decoding import decode_json
from tokenwire.protocol.dialects.consultation import ConsultationDTO, MessageDTO
from tokenwire.protocol.dialects.timestamps import iso_ms, iso_seconds, to_seconds
from tokenwire.protocol.resources import Message, Window

__all__ = [
    "BARE_PREFERENCE",
    "AppConsultation",
    "AppMessage",
    "ConsultationView",
    "conflict",
    "error",
    "refusal",
    "shape",
    "wants_bare",
]

BARE_PREFERENCE = "tokenwire-shape=bare"

_json = msgspec.json.Encoder()


class AppConsultation(msgspec.Struct, frozen=True, omit_defaults=True):
    """``BackendConsultation`` / ``ConversationDTO`` of the app; optional keys left out when
    unknown (Swift decodes a missing optional as nil). ``started_at`` is optional to the app
    but always known here: a consultation starts when it is made."""

    id: str
    user_id: str
    persona: str
    status: str
    message_count: int
    created_at: str
    updated_at: str
    started_at: str
    completed_at: str | None = None
    last_message_at: str | None = None
    goal_id: str | None = None


class AppMessage(msgspec.Struct, frozen=True):
    """``BackendMessage`` / ``MessageDTO`` of the app (``created_at`` decoded as a Date)."""

    id: str
    consultation_id: str
    role: str
    content: str
    created_at: str


def wants_bare(prefer: str | None) -> bool:
    """Whether a ``Prefer`` header asks for tokenwire's earlier bare shape."""
    if not prefer:
        return False
    return any(p.strip().lower() == BARE_PREFERENCE for p in prefer.split(","))


def error(code: str, message: str) -> bytes:
    """``{"success": false, "error": {"code", "message"}}``: the app's ``BackendErrorResponse``
    (its HTTP client shows ``message``)."""
    return _json.encode({"success": False, "error": {"code": code, "message": message}})


def refusal(refused: TokenwireError) -> bytes:
    """A request refused, in the app's error shape with the error's own code."""
    return error(refused.code, refused.message)


def conflict(existing: AppConsultation, message: str) -> dict[str, Any]:
    """The 409 of ``POST /consultations``: the app opens ``existing_consultation_id``."""
    details: dict[str, Any] = {
        "existing_consultation_id": existing.id,
        "persona": existing.persona,
        "status": existing.status,
        "can_continue": True,
    }
    if existing.goal_id is not None:
        details["goal_id"] = existing.goal_id
    return {
        "success": False,
        "error": {"code": "consultation_exists", "message": message, "details": details},
    }


class Update(msgspec.Struct, frozen=True):
    """``PUT /consultations/{id}`` as the app sends it (``UpdateConversationRequest``)."""

    title: str | None = None
    persona: str | None = None
    is_archived: bool | None = None


_update = msgspec.json.Decoder(Update)


def parse_update(body: bytes) -> Update:
    try:
        return decode_json(body, _update)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"invalid request body: {exc}") from exc


# --- the two shapes -------------------------------------------------------------------------


class ConsultationView(msgspec.Struct, frozen=True, kw_only=True):
    """A consultation as both shapes need it, in plain values (``consultations.py`` reads it)."""

    id: str
    user_id: str
    persona: str | None
    status: str
    goal_id: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: str | None = None
    message_count: int = 0
    last_message_at: datetime | None = None


class Shape(Protocol):
    """The bodies of the consultation routes in one shape: the app's or the bare one."""

    # The app's poller stops at "the last message is from the assistant": its shape lists
    # only finished replies (and counts them); the bare shape lists every message.
    finished_only: bool

    def one(self, c: ConsultationView) -> Any: ...
    def made(self, c: ConsultationView) -> Any: ...
    def many(self, cs: list[ConsultationView], total: int, window: Window) -> Any: ...
    def taken(self, existing: ConsultationView, message: str) -> Any: ...
    def history(
        self, cid: str, ms: list[Message], *, window: Window, next_before: str | None
    ) -> Any: ...
    def sent(self, asked: Message, answered: Message) -> Any: ...


def _app(c: ConsultationView) -> AppConsultation:
    return AppConsultation(
        id=c.id,
        user_id=c.user_id,
        persona=c.persona or "",
        status=c.status,
        message_count=c.message_count,
        created_at=iso_seconds(c.created_at),
        updated_at=iso_seconds(c.updated_at),
        started_at=iso_seconds(c.created_at),
        completed_at=c.completed_at,
        last_message_at=iso_seconds(c.last_message_at) if c.last_message_at else None,
        goal_id=c.goal_id,
    )


def _app_message(m: Message) -> AppMessage:
    return AppMessage(m.id, m.conversation_id, m.role, m.content, to_seconds(m.created_at))


class AppShape:
    """The app's envelopes (``{"data": ...}``), whole-second dates."""

    finished_only = True

    def one(self, c: ConsultationView) -> Any:
        return {"data": _app(c)}

    def made(self, c: ConsultationView) -> Any:
        return {"data": {"consultation": _app(c)}}

    def many(self, cs: list[ConsultationView], total: int, window: Window) -> Any:
        found = [_app(c) for c in cs]
        data = {"consultations": found, "total_count": total, **msgspec.structs.asdict(window)}
        return {"data": data}

    def taken(self, existing: ConsultationView, message: str) -> Any:
        return conflict(_app(existing), message)

    def history(
        self, cid: str, ms: list[Message], *, window: Window, next_before: str | None
    ) -> Any:
        """``ms``: every finished message; the window of them at ``offset``."""
        shown = [_app_message(m) for m in window.cut(ms)]
        return {"data": {"messages": shown, "total": len(ms), "has_more": window.more(len(ms))}}

    def sent(self, asked: Message, answered: Message) -> Any:
        return {
            "data": {
                "user_message": _app_message(asked),
                "assistant_message": _app_message(answered),
            }
        }


def _bare(c: ConsultationView) -> ConsultationDTO:
    return ConsultationDTO(
        c.id, c.persona, c.goal_id, c.status, iso_ms(c.created_at), iso_ms(c.updated_at)
    )


def _bare_message(m: Message) -> MessageDTO:
    return MessageDTO(m.id, m.conversation_id, m.role, m.content, m.created_at, m.status.value)


class BareShape:
    """tokenwire's earlier bare objects (``Prefer: tokenwire-shape=bare``)."""

    finished_only = False

    def one(self, c: ConsultationView) -> Any:
        return _bare(c)

    made = one

    def many(self, cs: list[ConsultationView], total: int, window: Window) -> Any:
        return {"consultations": [_bare(c) for c in cs]}

    def taken(self, existing: ConsultationView, message: str) -> Any:
        return {
            "error": message,
            "code": "consultation_exists",
            "consultation_id": existing.id,
            "consultation": _bare(existing),
        }

    def history(
        self, cid: str, ms: list[Message], *, window: Window, next_before: str | None
    ) -> Any:
        """``ms``: a page of every message, ``next_before`` the one before it."""
        items = [_bare_message(m) for m in ms]
        return {"consultation_id": cid, "messages": items, "next_before": next_before}

    def sent(self, asked: Message, answered: Message) -> Any:
        return {"user_message": _bare_message(asked), "message": _bare_message(answered)}


def shape(prefer: str | None) -> Shape:
    """The shape a request's ``Prefer`` header asks for."""
    return BareShape() if wants_bare(prefer) else AppShape()
