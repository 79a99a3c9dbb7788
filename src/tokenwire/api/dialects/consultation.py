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

Bodies are the app's (``protocol/dialects/consultation_rest.py``), or with ``Prefer:
tokenwire-shape=bare`` tokenwire's earlier bare objects; the rules of a consultation's life
are ``tokenwire/consultations.py``'s. Errors: ``{"success": false, "error": {...}}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, WebSocket

from tokenwire import consultations as rules
from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import dialect_route, serve_socket
from tokenwire.api.resources import Paged, Resource, message
from tokenwire.protocol.dialects import consultation as wire
from tokenwire.protocol.dialects import consultation_rest as rest

router = APIRouter(
    prefix="/api/v1", tags=["consultations"], route_class=dialect_route(rest.refusal)
)


async def consultations(
    request: Request, user: CurrentUser, engine: EngineDep
) -> rules.Consultations:
    """The user's consultations, in the shape the request's ``Prefer`` header asks for."""
    return rules.Consultations(engine, user.id, rest.shape(request.headers.get("prefer")))


Desk = Annotated[rules.Consultations, Depends(consultations)]


@router.post("/consultations", status_code=201)
async def create_consultation(request: Request, desk: Desk) -> Resource:
    """A new consultation, or 409 naming the active one for the persona (seed 001:
    "409 Conflict: Existing consultation (fetch it)")."""
    body = wire.parse_create(await request.body())
    try:
        made = await desk.create(body.persona, body.goal_id)
    except rules.ConsultationExists as exc:
        return Resource(desk.form.taken(exc.existing, exc.message), 409)
    return Resource(desk.form.made(made), 201)


@router.get("/consultations")
async def list_consultations(
    desk: Desk, window: Paged, persona: str | None = None, status: str | None = None
) -> Resource:
    views, total = await desk.listed(window, persona=persona, status=status)
    return Resource(desk.form.many(views, total, window))


@router.get("/consultations/{cid}")
async def get_consultation(cid: str, desk: Desk) -> Resource:
    return Resource(desk.form.one(await desk.get(cid)))


@router.post("/consultations/{cid}/complete")
async def complete_consultation(cid: str, desk: Desk) -> Resource:
    """End the consultation; its persona may then start a new one."""
    return Resource(desk.form.one(await desk.complete(cid)))


@router.put("/consultations/{cid}")
async def update_consultation(cid: str, request: Request, desk: Desk) -> Resource:
    """Rename, or archive (``is_archived: true``); see ``Consultations.update``."""
    change = rest.parse_update(await request.body())
    return Resource(desk.form.one(await desk.update(cid, change)))


@router.delete("/consultations/{cid}", status_code=204)
async def delete_consultation(cid: str, user: CurrentUser, engine: EngineDep) -> Response:
    await engine.delete_conversation(user.id, cid)
    return Response(status_code=204)


@router.get("/consultations/{cid}/messages")
async def consultation_messages(
    cid: str, desk: Desk, window: Paged, before: str | None = None
) -> Resource:
    """History, oldest first. The app's shape lists only finished replies (a poll mid-reply
    shows the user message last, so the poller keeps polling), a window at ``offset``; the
    bare shape lists every message with its ``status``, a page before ``before``."""
    ms, next_before = await desk.history(cid, limit=window.limit, before=before)
    items = [message(m) for m in ms]
    return Resource(desk.form.history(cid, items, window=window, next_before=next_before))


@router.post("/consultations/{cid}/messages", status_code=201)
async def post_message(
    cid: str, request: Request, user: CurrentUser, engine: EngineDep, desk: Desk
) -> Resource:
    """Send without a socket and answer with the whole reply (seed 001, "Layer 2"); a reply
    that failed is an error (``Engine.result`` raises it: 502 ``provider_error`` in the
    app's error shape), never a message that looks answered."""
    asked = wire.turn(cid, wire.parse_post(await request.body()))
    turn = await engine.start_turn(user.id, asked.ref, asked.prompt, asked.options)
    final = await engine.result(turn.assistant_message)
    sent = desk.form.sent(message(turn.user_message), message(final))
    return Resource(sent, 201 if turn.created else 200)


@router.websocket("/consultations/{cid}/ws")
async def consultation_socket(websocket: WebSocket, cid: str) -> None:
    """Authenticated like every socket: ``Authorization: Bearer`` or ``?token=``."""
    await serve_socket(
        websocket,
        lambda engine, user: engine.conversation(user.id, cid),
        lambda c: wire.ConsultationCodec(c.id),
    )
