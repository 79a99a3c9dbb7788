"""The image chat of seed 003, as its AI engine serves it.

    POST /api/v1/chat-image-stream {base64_image, prompt, subject, session_id, student_id}
         -> SSE start / content / end / error
    POST /api/v1/chat-image  (same body) -> ``ChatImageResult`` JSON

``session_id`` names the conversation (made on first use; a conversation id works too);
without it every request starts a new one. ``subject`` and ``student_id`` are kept in the
conversation's metadata, which the model gets as context. The image goes to the model as a
data URL. A client that goes away does not stop the reply (the seed's "Stop Generating"
cancels the client's request only); an explicit stop is ``POST /api/v1/messages/{id}/cancel``.
Errors: the HTTP status with the seed's ``{"type":"error","error"}`` as the body (an SSE
event on the streaming endpoint).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import dialect_route
from tokenwire.api.streaming import EventStream
from tokenwire.engine import Engine
from tokenwire.protocol.dialects import chat_image as wire
from tokenwire.store import Turn, User

router = APIRouter(
    prefix="/api/v1",
    tags=["chat-image"],
    route_class=dialect_route(
        lambda e: wire.error_body(e.message), lambda e: wire.error_event(e.message)
    ),
)


async def _send(request: Request, engine: Engine, user: User) -> tuple[Turn, str]:
    """Start the turn of a request; the session id to answer with comes back too: the
    client's own, or the id of the conversation a request without one started."""
    body = wire.parse_request(await request.body())
    asked = wire.turn(body)
    turn = await engine.start_turn(user.id, asked.ref, asked.prompt, asked.options)
    return turn, body.session_id or turn.assistant_message.conversation_id


@router.post(
    "/chat-image-stream",
    responses={200: {"content": {"text/event-stream": {}}}},
    response_model=None,
)
async def chat_image_stream(request: Request, user: CurrentUser, engine: EngineDep) -> EventStream:
    turn, _ = await _send(request, engine, user)
    return EventStream(engine.follow(turn.assistant_message, -1), wire.ChatImageEncoder())


@router.post("/chat-image")
async def chat_image(request: Request, user: CurrentUser, engine: EngineDep) -> Response:
    """The whole reply at once: the fallback the seed keeps beside the stream."""
    turn, session_id = await _send(request, engine, user)
    final = await engine.result(turn.assistant_message)
    result = wire.ChatImageResult(
        content=final.content,
        model=final.model or engine.models[0],
        tokens=final.usage.completion_tokens if final.usage else 0,
        finish_reason=final.finish_reason or "stop",
        processing_time_ms=round(final.timings.total_ms) if final.timings else 0,
        session_id=session_id,
        message_id=final.id,
    )
    return Response(wire.encode_result(result), media_type="application/json")
