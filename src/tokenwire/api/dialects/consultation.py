"""The consultation API of seeds 000 and 001.

    POST /api/v1/consultations {persona, goal_id?}   201 new, or 409 with the active one
    GET  /api/v1/consultations[?persona=&status=]   the user's consultations
    GET  /api/v1/consultations/{id}
    POST /api/v1/consultations/{id}/complete        ends it: a new one may start
    PUT  /api/v1/consultations/{id} {title?, persona?, is_archived?}
    DELETE /api/v1/consultations/{id}
    GET  /api/v1/consultations/{id}/messages        history
    POST /api/v1/consultations/{id}/messages        the REST fallback: the full reply
    WS   /api/v1/consultations/{id}/ws              live chat

Bodies are the app's (``protocol/dialects/consultation_rest.py``: ``{"data": ...}``
envelopes, whole-second dates); ``Prefer: tokenwire-shape=bare`` gets tokenwire's earlier
bare objects. History and polling never show a reply that is not finished: the app's poller
stops at "the last message is from the assistant".

A consultation is a conversation of kind ``consultation`` with ``persona`` set and
``_status`` in its metadata; while active, its key names its persona, so there is one active
consultation per persona; ``goal_id`` is kept as context for the model. Errors are the
app's ``{"success": false, "error": {"code", "message"}}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import dialect_route
from tokenwire.api.personas import PersonasDep
from tokenwire.api.resources import Resource
from tokenwire.api.sockets import ConversationSocket, serve
from tokenwire.api.ws import open_socket
from tokenwire.engine import Engine
from tokenwire.engine.references import DIALECT
from tokenwire.errors import BadRequest, Conflict
from tokenwire.protocol.dialects import consultation as wire
from tokenwire.protocol.dialects import consultation_rest as rest
from tokenwire.protocol.dialects.timestamps import iso_seconds
from tokenwire.protocol.options import ById, ByKey, TurnOptions
from tokenwire.store import Conversation, Message, MessageStatus, User
from tokenwire.store.convert import isoformat

NAME = "consultation"
STATUS = "_status"
ACTIVE = "active"
COMPLETED = "completed"
ARCHIVED = "archived"
# Replies the app may be shown: finished ones. A streaming, failed or interrupted reply
# would stop its poller ("last message is from the assistant") on a text that is not the
# answer.
SHOWN = frozenset({MessageStatus.COMPLETE, MessageStatus.CANCELLED})

router = APIRouter(
    prefix="/api/v1",
    tags=["consultations"],
    route_class=dialect_route(lambda e: rest.error(e.code, e.message)),
)


def bare(request: Request) -> bool:
    return rest.wants_bare(request.headers.get("prefer"))


def consultation_dto(c: Conversation) -> wire.ConsultationDTO:
    goal = c.metadata.get("goal_id")
    return wire.ConsultationDTO(
        id=c.id,
        persona=c.persona,
        goal_id=None if goal is None else str(goal),
        status=str(c.metadata.get(STATUS, ACTIVE)),
        created_at=isoformat(c.created_at),
        updated_at=isoformat(c.updated_at),
    )


def message_dto(m: Message) -> wire.MessageDTO:
    return wire.MessageDTO(
        id=m.id,
        consultation_id=m.conversation_id,
        role=m.role,
        content=m.content,
        created_at=isoformat(m.created_at),
        status=m.status.value,
    )


def app_message(m: Message) -> rest.AppMessage:
    return rest.AppMessage(m.id, m.conversation_id, m.role, m.content, iso_seconds(m.created_at))


def shown(m: Message) -> bool:
    return m.role != "assistant" or m.status in SHOWN


async def _all_messages(engine: Engine, user: User, cid: str) -> list[Message]:
    """Every message of the consultation, oldest first."""
    found: list[Message] = []
    before: str | None = None
    while True:
        page = await engine.messages(user.id, cid, limit=500, before=before)
        found = page.items + found
        if page.next_before is None:
            return found
        before = page.next_before


async def app_consultation(engine: Engine, user: User, c: Conversation) -> rest.AppConsultation:
    messages = [m for m in await _all_messages(engine, user, c.id) if shown(m)]
    goal = c.metadata.get("goal_id")
    completed = c.metadata.get("_completed_at")
    return rest.AppConsultation(
        id=c.id,
        user_id=user.id,
        persona=c.persona or "",
        status=str(c.metadata.get(STATUS, ACTIVE)),
        message_count=len(messages),
        created_at=iso_seconds(c.created_at),
        updated_at=iso_seconds(c.updated_at),
        started_at=iso_seconds(c.created_at),
        completed_at=None if completed is None else str(completed),
        last_message_at=iso_seconds(messages[-1].created_at) if messages else None,
        goal_id=None if goal is None else str(goal),
    )


def _active(persona: str | None) -> ByKey:
    # The store keeps a conversation key unique per user, so "one active consultation per
    # persona" holds even when two requests (or two instances) race to create one.
    return ByKey(NAME, f"active:{persona}")


@router.post("/consultations", status_code=201)
async def create_consultation(
    request: Request, user: CurrentUser, engine: EngineDep, personas: PersonasDep
) -> Resource:
    """A new consultation, or 409 naming the active one for the persona (seed 001:
    "409 Conflict: Existing consultation (fetch it)")."""
    body = wire.parse_create(await request.body())
    personas.require(body.persona)
    metadata: dict[str, Any] = {DIALECT: NAME, STATUS: ACTIVE}
    if body.goal_id is not None:
        metadata["goal_id"] = body.goal_id
    active = _active(body.persona)
    try:
        created = await engine.create_conversation(
            user.id,
            title=f"Consultation with {body.persona}",
            persona=body.persona,
            metadata=metadata,
            kind=NAME,
            key=active.key,
        )
    except Conflict:
        existing = await engine.conversation_named(user.id, active)
        if existing is None:  # completed in between: the caller may simply try again
            raise
        message = f"an active consultation with {body.persona} exists"
        if bare(request):
            conflict = {
                "error": message,
                "code": "consultation_exists",
                "consultation_id": existing.id,
                "consultation": consultation_dto(existing),
            }
            return Resource(conflict, 409)
        found = await app_consultation(engine, user, existing)
        return Resource(rest.conflict(found, message), 409)
    if bare(request):
        return Resource(consultation_dto(created), 201)
    made = await app_consultation(engine, user, created)
    return Resource({"data": {"consultation": made}}, 201)


@router.get("/consultations")
async def list_consultations(
    request: Request,
    user: CurrentUser,
    engine: EngineDep,
    persona: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Resource:
    found: list[Conversation] = []
    before: str | None = None
    while True:
        page = await engine.conversations(user.id, limit=200, before=before, kind=NAME)
        found += [
            c
            for c in page.items
            if (persona is None or c.persona == persona)
            and (status is None or c.metadata.get(STATUS, ACTIVE) == status)
        ]
        if page.next_before is None:
            break
        before = page.next_before
    if bare(request):
        return Resource({"consultations": [consultation_dto(c) for c in found]})
    limit, offset = min(max(limit, 1), 500), max(offset, 0)
    window = [await app_consultation(engine, user, c) for c in found[offset : offset + limit]]
    data = {"consultations": window, "total_count": len(found), "limit": limit, "offset": offset}
    return Resource({"data": data})


@router.get("/consultations/{cid}")
async def get_consultation(
    cid: str, request: Request, user: CurrentUser, engine: EngineDep
) -> Resource:
    conversation = await engine.conversation(user.id, cid)
    if bare(request):
        return Resource(consultation_dto(conversation))
    return Resource({"data": await app_consultation(engine, user, conversation)})


async def _set_status(
    engine: Engine, user: User, conversation: Conversation, status: str, **changes: Any
) -> Conversation:
    metadata = {**conversation.metadata, STATUS: status}
    if status != ACTIVE:
        await engine.unname_conversation(user.id, conversation.id)  # frees the persona
        metadata.setdefault("_completed_at", iso_seconds(conversation.updated_at))
    return await engine.update_conversation(user.id, conversation.id, metadata=metadata, **changes)


@router.post("/consultations/{cid}/complete")
async def complete_consultation(
    cid: str, request: Request, user: CurrentUser, engine: EngineDep
) -> Resource:
    """End the consultation; its persona may then start a new one."""
    updated = await _set_status(engine, user, await engine.conversation(user.id, cid), COMPLETED)
    if bare(request):
        return Resource(consultation_dto(updated))
    return Resource({"data": await app_consultation(engine, user, updated)})


@router.put("/consultations/{cid}")
async def update_consultation(
    cid: str, request: Request, user: CurrentUser, engine: EngineDep, personas: PersonasDep
) -> Resource:
    """Rename, or archive (``is_archived: true``, which frees the persona like ``complete``).
    A consultation keeps its persona, and an ended one stays ended: another persona, or
    ``is_archived: false`` on an ended one, is a 400 naming the field."""
    body = rest.parse_update(await request.body())
    conversation = await engine.conversation(user.id, cid)
    if body.persona is not None and body.persona != conversation.persona:
        personas.require(body.persona)
        raise BadRequest(
            "persona: a consultation keeps its persona; start a new one", code="invalid_persona"
        )
    changes: dict[str, Any] = {} if body.title is None else {"title": body.title}
    status = conversation.metadata.get(STATUS, ACTIVE)
    if body.is_archived is False and status != ACTIVE:
        raise BadRequest(
            f"is_archived: a {status} consultation stays {status}; start a new one",
            code="invalid_request",
        )
    if body.is_archived and status == ACTIVE:
        updated = await _set_status(engine, user, conversation, ARCHIVED, **changes)
    elif changes:
        updated = await engine.update_conversation(user.id, conversation.id, **changes)
    else:
        updated = conversation
    if bare(request):
        return Resource(consultation_dto(updated))
    return Resource({"data": await app_consultation(engine, user, updated)})


@router.delete("/consultations/{cid}", status_code=204)
async def delete_consultation(cid: str, user: CurrentUser, engine: EngineDep) -> Response:
    await engine.delete_conversation(user.id, cid)
    return Response(status_code=204)


@router.get("/consultations/{cid}/messages")
async def consultation_messages(
    cid: str,
    request: Request,
    user: CurrentUser,
    engine: EngineDep,
    limit: int = 100,
    before: str | None = None,
    offset: int = 0,
) -> Resource:
    """History, oldest first. The app's shape lists only finished replies (a poll mid-reply
    shows the user message last, so the poller keeps polling); the bare shape lists every
    message with its ``status``."""
    limit = min(max(limit, 1), 500)
    if bare(request):
        page = await engine.messages(user.id, cid, limit=limit, before=before)
        items = [message_dto(m) for m in page.items]
        return Resource(
            {"consultation_id": cid, "messages": items, "next_before": page.next_before}
        )
    messages = [m for m in await _all_messages(engine, user, cid) if shown(m)]
    offset = max(offset, 0)
    window = [app_message(m) for m in messages[offset : offset + limit]]
    data = {"messages": window, "total": len(messages), "has_more": offset + limit < len(messages)}
    return Resource({"data": data})


@router.post("/consultations/{cid}/messages", status_code=201)
async def post_message(
    cid: str, request: Request, user: CurrentUser, engine: EngineDep
) -> Resource:
    """Send without a socket and answer with the whole reply (seed 001, "Layer 2"); a reply
    that failed is an error (``Engine.result`` raises it: 502 ``provider_error`` in the
    app's error shape), never a message that looks answered."""
    body = wire.parse_post(await request.body())
    options = TurnOptions(client_message_id=body.client_message_id)
    turn = await engine.start_turn(user.id, ById(cid), body.content, options)
    final = await engine.result(turn.assistant_message)
    status = 201 if turn.created else 200
    if bare(request):
        payload = {"user_message": message_dto(turn.user_message), "message": message_dto(final)}
        return Resource(payload, status)
    data = {
        "user_message": app_message(turn.user_message),
        "assistant_message": app_message(final),
    }
    return Resource({"data": data}, status)


@router.websocket("/consultations/{cid}/ws")
async def consultation_socket(websocket: WebSocket, cid: str) -> None:
    """Authenticated like every socket: ``Authorization: Bearer`` or ``?token=``."""
    opened = await open_socket(websocket, lambda engine, user: engine.conversation(user.id, cid))
    if opened is not None:
        engine, user, conversation = opened
        codec = wire.ConsultationCodec(conversation.id)
        socket = ConversationSocket(websocket, engine, user, conversation, codec)
        await serve(socket)
