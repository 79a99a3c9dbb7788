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

from typing import Any

import msgspec

from tokenwire.errors import BadRequest
from tokenwire.protocol.decoding import decode_json

__all__ = [
    "BARE_PREFERENCE",
    "AppConsultation",
    "AppMessage",
    "conflict",
    "error",
    "wants_bare",
]

BARE_PREFERENCE = "tokenwire-shape=bare"

_json = msgspec.json.Encoder()


class AppConsultation(msgspec.Struct, frozen=True, omit_defaults=True):
    """``BackendConsultation`` / ``ConversationDTO`` of the app; optional keys left out when
    unknown (Swift decodes a missing optional as nil)."""

    id: str
    user_id: str
    persona: str
    status: str
    message_count: int
    created_at: str
    updated_at: str
    started_at: str | None = None
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
