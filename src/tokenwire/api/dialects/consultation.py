"""The consultation API of seeds 000 and 001.

    POST /api/v1/consultations {persona, goal_id?}   201 new, or 409 with the active one
    GET  /api/v1/consultations[?persona=&status=]   the user's consultations
    GET  /api/v1/consultations/{id}
    POST /api/v1/consultations/{id}/complete        ends it: a new one may start
    GET  /api/v1/consultations/{id}/messages        history
    POST /api/v1/consultations/{id}/messages        the REST fallback: the full reply
    WS   /api/v1/consultations/{id}/ws              live chat

A consultation is a conversation of kind ``consultation`` with ``persona`` set and
``_status`` in its metadata; while active, its key names its persona, so there is one active
consultation per persona; ``goal_id`` is kept as context for the model. Errors are
``{"error": <message>, "code"}``, the shape of the seed's ``error`` frame.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse, Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import dialect_route, status_headers
from tokenwire.api.personas import PersonasDep
from tokenwire.api.sockets import ConversationSocket, serve
from tokenwire.api.ws import open_socket
from tokenwire.engine.references import DIALECT
from tokenwire.errors import Conflict, TokenwireError
from tokenwire.protocol.dialects import consultation as wire
from tokenwire.protocol.options import ById, ByKey, TurnOptions
from tokenwire.store import Conversation, Message
from tokenwire.store.convert import isoformat

NAME = "consultation"
STATUS = "_status"
ACTIVE = "active"
COMPLETED = "completed"

_json = msgspec.json.Encoder()


def render_error(_: Request, exc: TokenwireError) -> Response:
    body = {"error": exc.message, "code": exc.code}
    return JSONResponse(body, status_code=exc.status, headers=status_headers(exc))


router = APIRouter(
    prefix="/api/v1", tags=["consultations"], route_class=dialect_route(render_error)
)


def _json_response(payload: Any, status_code: int = 200) -> Response:
    return Response(_json.encode(payload), status_code=status_code, media_type="application/json")


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


def _active(persona: str | None) -> ByKey:
    # The store keeps a conversation key unique per user, so "one active consultation per
    # persona" holds even when two requests (or two instances) race to create one.
    return ByKey(NAME, f"active:{persona}")


@router.post("/consultations", status_code=201)
async def create_consultation(
    request: Request, user: CurrentUser, engine: EngineDep, personas: PersonasDep
) -> Response:
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
        conflict = {
            "error": f"an active consultation with {body.persona} exists",
            "code": "consultation_exists",
            "consultation_id": existing.id,
            "consultation": msgspec.to_builtins(consultation_dto(existing)),
        }
        return JSONResponse(conflict, status_code=409)
    return _json_response(consultation_dto(created), status_code=201)


@router.get("/consultations")
async def list_consultations(
    user: CurrentUser, engine: EngineDep, persona: str | None = None, status: str | None = None
) -> Response:
    found: list[wire.ConsultationDTO] = []
    before: str | None = None
    while True:
        page = await engine.conversations(user.id, limit=200, before=before, kind=NAME)
        found += [
            consultation_dto(c)
            for c in page.items
            if (persona is None or c.persona == persona)
            and (status is None or c.metadata.get(STATUS, ACTIVE) == status)
        ]
        if page.next_before is None:
            break
        before = page.next_before
    return _json_response({"consultations": found})


@router.get("/consultations/{cid}")
async def get_consultation(cid: str, user: CurrentUser, engine: EngineDep) -> Response:
    return _json_response(consultation_dto(await engine.conversation(user.id, cid)))


@router.post("/consultations/{cid}/complete")
async def complete_consultation(cid: str, user: CurrentUser, engine: EngineDep) -> Response:
    """End the consultation; its persona may then start a new one."""
    conversation = await engine.conversation(user.id, cid)
    await engine.unname_conversation(user.id, cid)  # frees the persona's active slot
    metadata = {**conversation.metadata, STATUS: COMPLETED}
    updated = await engine.update_conversation(user.id, cid, metadata=metadata)
    return _json_response(consultation_dto(updated))


@router.get("/consultations/{cid}/messages")
async def consultation_messages(
    cid: str, user: CurrentUser, engine: EngineDep, limit: int = 100, before: str | None = None
) -> Response:
    page = await engine.messages(user.id, cid, limit=min(max(limit, 1), 500), before=before)
    items = [message_dto(m) for m in page.items]
    return _json_response(
        {"consultation_id": cid, "messages": items, "next_before": page.next_before}
    )


@router.post("/consultations/{cid}/messages", status_code=201)
async def post_message(
    cid: str, request: Request, user: CurrentUser, engine: EngineDep
) -> Response:
    """Send without a socket and answer with the whole reply (seed 001, "Layer 2"); a reply
    that failed is an error, never a message that looks answered."""
    body = wire.parse_post(await request.body())
    options = TurnOptions(client_message_id=body.client_message_id)
    turn = await engine.start_turn(user.id, ById(cid), body.content, options)
    final = await engine.result(turn.assistant_message)
    payload = {"user_message": message_dto(turn.user_message), "message": message_dto(final)}
    return _json_response(payload, status_code=201 if turn.created else 200)


@router.websocket("/consultations/{cid}/ws")
async def consultation_socket(websocket: WebSocket, cid: str) -> None:
    """Authenticated like every socket: ``Authorization: Bearer`` or ``?token=``."""
    opened = await open_socket(websocket, lambda engine, user: engine.conversation(user.id, cid))
    if opened is not None:
        engine, user, conversation = opened
        codec = wire.ConsultationCodec(conversation.id)
        await serve(ConversationSocket(websocket, engine, user, conversation, codec))
