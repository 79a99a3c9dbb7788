"""The session SSE API of seed 002.

    POST /sessions/{sessionId}/messages/stream {content, role}   SSE start/token/end/error
    GET  /sessions/{sessionId}/messages                           the refresh after ``end``

A session is a conversation named by ``sessionId`` (made on first use; a conversation id
works too). The user message is stored before the stream starts, and a client that goes
away does not stop the reply: it is in the history when the client refreshes. An explicit
stop is ``POST /api/v1/messages/{messageId}/cancel`` with the ``start`` event's id.

The response headers are the seed's; ``Access-Control-Allow-Origin`` comes from the app's
CORS middleware, for the origins in ``TOKENWIRE_CORS_ORIGINS`` (none unless configured).
A request that cannot be served gets its HTTP status and, for the stream endpoint, the
seed's ``error`` event as the body, so the client's SSE parser can show it.
"""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import dialect_route, status_headers
from tokenwire.api.streaming import SSE_HEADERS, EventStream
from tokenwire.errors import NotFound, TokenwireError
from tokenwire.protocol.dialects import session_sse as wire
from tokenwire.protocol.options import ByKey, TurnOptions
from tokenwire.store.convert import isoformat

NAME = "session"

_json = msgspec.json.Encoder()


def render_error(request: Request, exc: TokenwireError) -> Response:
    headers = status_headers(exc)
    if request.method == "POST":
        return Response(
            wire.error_event(exc.message),
            status_code=exc.status,
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **headers},
        )
    body = _json.encode({"type": "error", "error": exc.message})
    return Response(body, status_code=exc.status, media_type="application/json", headers=headers)


router = APIRouter(tags=["sessions"], route_class=dialect_route(render_error))


class SessionMessageDTO(msgspec.Struct, frozen=True):
    """A message of ``GET /sessions/{sessionId}/messages`` (camelCase, as ``messageId``)."""

    id: str
    sessionId: str
    role: str
    content: str
    status: str
    createdAt: str


@router.post(
    "/sessions/{session_id}/messages/stream",
    responses={200: {"content": {"text/event-stream": {}}}},
    response_model=None,
)
async def stream_message(
    session_id: str, request: Request, user: CurrentUser, engine: EngineDep
) -> EventStream:
    message = wire.parse_message(await request.body())
    options = TurnOptions(title=f"Session {session_id}")
    turn = await engine.start_turn(user.id, ByKey(NAME, session_id), message.content, options)
    return EventStream(engine.follow(turn.assistant_message, -1), wire.SessionSSEEncoder())


@router.get("/sessions/{session_id}/messages")
async def session_messages(session_id: str, user: CurrentUser, engine: EngineDep) -> Response:
    """The session's messages, oldest first, as a JSON array."""
    conversation = await engine.find_conversation(user.id, ByKey(NAME, session_id))
    if conversation is None:
        raise NotFound(f"session {session_id} not found")
    page = await engine.messages(user.id, conversation.id, limit=500)
    items = [
        SessionMessageDTO(
            id=m.id,
            sessionId=session_id,
            role=m.role,
            content=m.content,
            status=m.status.value,
            createdAt=isoformat(m.created_at),
        )
        for m in page.items
    ]
    return Response(_json.encode(items), media_type="application/json")
