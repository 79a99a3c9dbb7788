"""The session SSE API of seed 002.

    POST /sessions/{sessionId}/messages/stream {content, role}   SSE start/token/end/error
    GET  /sessions/{sessionId}/messages                           the refresh after ``end``

The user message is stored before the stream starts. The response headers are the seed's;
``Access-Control-Allow-Origin`` comes from the app's CORS middleware, for the origins in
``TOKENWIRE_CORS_ORIGINS`` (none unless configured). Errors: the seed's ``error`` event.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import SSE, dialect_route
from tokenwire.api.resources import Resource, shown
from tokenwire.api.streaming import EventStream
from tokenwire.protocol.dialects import session_sse as wire
from tokenwire.protocol.options import ByKey

router = APIRouter(tags=["sessions"], route_class=dialect_route(wire.refusal, wire.refusal_event))


@router.post("/sessions/{session_id}/messages/stream", responses=SSE, response_model=None)
async def stream_message(
    session_id: str, request: Request, user: CurrentUser, engine: EngineDep
) -> EventStream:
    asked = wire.turn(session_id, wire.parse_message(await request.body()))
    turn = await engine.start_turn(user.id, asked.ref, asked.prompt, asked.options)
    return EventStream(engine.follow(turn.assistant_message, -1), wire.SessionSSEEncoder())


@router.get("/sessions/{session_id}/messages")
async def session_messages(session_id: str, user: CurrentUser, engine: EngineDep) -> Resource:
    """The session's messages, oldest first, as a JSON array. Only finished replies are
    listed: the seed's page renders every item as an answer (it refreshes after ``end``, or
    on load while a reply runs), so a reply still streaming, or one that failed (its error
    was the stream's ``error`` event), is left out until it is an answer."""
    session = await engine.named_conversation(user.id, ByKey(wire.KIND, session_id))
    return Resource(wire.history(session_id, await shown(engine, user.id, session.id)))
