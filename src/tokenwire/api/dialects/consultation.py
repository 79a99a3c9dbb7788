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

The rules of a consultation's life are ``tokenwire/consultations.py``'s. Errors are the app's
``{"success": false, "error": {"code", "message"}}``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, WebSocket

from tokenwire import consultations as rules
from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import dialect_route
from tokenwire.api.personas import PersonasDep
from tokenwire.api.resources import Resource
from tokenwire.api.sockets import ConversationSocket, serve
from tokenwire.api.ws import open_socket
from tokenwire.engine import Engine
from tokenwire.protocol.dialects import consultation as wire
from tokenwire.protocol.dialects import consultation_rest as rest
from tokenwire.protocol.options import ById, TurnOptions
from tokenwire.store import Conversation, Message, User

router = APIRouter(
    prefix="/api/v1",
    tags=["consultations"],
    route_class=dialect_route(lambda e: rest.error(e.code, e.message)),
)


def shape(request: Request) -> rest.Shape:
    return rest.shape(request.headers.get("prefer"))


def message_view(m: Message) -> rest.MessageView:
    return rest.MessageView(
        id=m.id,
        consultation_id=m.conversation_id,
        role=m.role,
        content=m.content,
        status=m.status.value,
        created_at=m.created_at,
    )


async def view(
    engine: Engine, user: User, c: Conversation, form: rest.Shape
) -> rest.ConsultationView:
    shown = await engine.transcript(user.id, c.id, answers_only=True) if form.finished_only else []
    completed = c.metadata.get(rules.COMPLETED_AT)
    return rest.ConsultationView(
        id=c.id,
        user_id=user.id,
        persona=c.persona,
        status=rules.status_of(c),
        goal_id=rules.goal_of(c),
        created_at=c.created_at,
        updated_at=c.updated_at,
        completed_at=None if completed is None else str(completed),
        message_count=len(shown),
        last_message_at=shown[-1].created_at if shown else None,
    )


@router.post("/consultations", status_code=201)
async def create_consultation(
    request: Request, user: CurrentUser, engine: EngineDep, personas: PersonasDep
) -> Resource:
    """A new consultation, or 409 naming the active one for the persona (seed 001:
    "409 Conflict: Existing consultation (fetch it)")."""
    body = wire.parse_create(await request.body())
    personas.require(body.persona)
    form = shape(request)
    try:
        made = await rules.create(engine, user.id, body.persona, body.goal_id)
    except rules.ConsultationExists as exc:
        existing = await view(engine, user, exc.existing, form)
        return Resource(form.taken(existing, exc.message), 409)
    return Resource(form.made(await view(engine, user, made, form)), 201)


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
    form = shape(request)
    found = await rules.listed(engine, user.id, persona=persona, status=status)
    limit, offset = min(max(limit, 1), 500), max(offset, 0)
    window = found if not form.finished_only else found[offset : offset + limit]
    views = [await view(engine, user, c, form) for c in window]
    return Resource(form.many(views, len(found), limit, offset))


@router.get("/consultations/{cid}")
async def get_consultation(
    cid: str, request: Request, user: CurrentUser, engine: EngineDep
) -> Resource:
    form = shape(request)
    return Resource(
        form.one(await view(engine, user, await engine.conversation(user.id, cid), form))
    )


@router.post("/consultations/{cid}/complete")
async def complete_consultation(
    cid: str, request: Request, user: CurrentUser, engine: EngineDep
) -> Resource:
    """End the consultation; its persona may then start a new one."""
    c = await engine.conversation(user.id, cid)
    ended = await rules.end(engine, user.id, c, rules.COMPLETED)
    form = shape(request)
    return Resource(form.one(await view(engine, user, ended, form)))


@router.put("/consultations/{cid}")
async def update_consultation(
    cid: str, request: Request, user: CurrentUser, engine: EngineDep, personas: PersonasDep
) -> Resource:
    """Rename, or archive (``is_archived: true``); see ``consultations.update``."""
    body = rest.parse_update(await request.body())
    c = await engine.conversation(user.id, cid)
    if body.persona is not None and body.persona != c.persona:
        personas.require(body.persona)  # an unknown one is a 422 naming the known ones
    updated = await rules.update(
        engine, user.id, c, title=body.title, persona=body.persona, is_archived=body.is_archived
    )
    form = shape(request)
    return Resource(form.one(await view(engine, user, updated, form)))


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
    shows the user message last, so the poller keeps polling), a window at ``offset``; the
    bare shape lists every message with its ``status``, a page before ``before``."""
    form, limit = shape(request), min(max(limit, 1), 500)
    if form.finished_only:
        shown, offset = await engine.transcript(user.id, cid, answers_only=True), max(offset, 0)
        window = [message_view(m) for m in shown[offset : offset + limit]]
        more = offset + limit < len(shown)
        return Resource(form.history(cid, window, total=len(shown), more=more, next_before=None))
    page = await engine.messages(user.id, cid, limit=limit, before=before)
    items = [message_view(m) for m in page.items]
    return Resource(form.history(cid, items, total=0, more=False, next_before=page.next_before))


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
    sent = shape(request).sent(message_view(turn.user_message), message_view(final))
    return Resource(sent, 201 if turn.created else 200)


@router.websocket("/consultations/{cid}/ws")
async def consultation_socket(websocket: WebSocket, cid: str) -> None:
    """Authenticated like every socket: ``Authorization: Bearer`` or ``?token=``."""
    opened = await open_socket(websocket, lambda engine, user: engine.conversation(user.id, cid))
    if opened is not None:
        engine, user, conversation = opened
        codec = wire.ConsultationCodec(conversation.id)
        await serve(ConversationSocket(websocket, engine, user, conversation, codec))
