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

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import dialect_route, status_headers
from tokenwire.api.streaming import SSE_HEADERS, EventStream
from tokenwire.engine import Engine
from tokenwire.errors import TokenwireError
from tokenwire.protocol.dialects import chat_image as wire
from tokenwire.protocol.options import ByHistory, ByKey, TurnOptions
from tokenwire.store import Turn, User

NAME = "chat_image"


def render_error(request: Request, exc: TokenwireError) -> Response:
    headers = status_headers(exc)
    if request.url.path.endswith("-stream"):
        return Response(
            wire.error_event(exc.message),
            status_code=exc.status,
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **headers},
        )
    return Response(
        wire.error_body(exc.message),
        status_code=exc.status,
        media_type="application/json",
        headers=headers,
    )


router = APIRouter(prefix="/api/v1", tags=["chat-image"], route_class=dialect_route(render_error))


async def _send(request: Request, engine: Engine, user: User) -> tuple[Turn, str]:
    """Start the turn of a request; the session id to answer with comes back too: the
    client's own, or the id of the conversation a request without one started."""
    body = wire.parse_request(await request.body())
    metadata: dict[str, Any] = {}
    if body.subject:
        metadata["subject"] = body.subject
    if body.student_id:
        metadata["student_id"] = body.student_id
    options = TurnOptions(
        title=body.subject or "Image chat",
        metadata=metadata,
        images=(wire.image_data_url(body.base64_image),) if body.base64_image else (),
    )
    # Without a session id every request starts a conversation of its own.
    ref = ByKey(NAME, body.session_id) if body.session_id else ByHistory(NAME, ())
    turn = await engine.start_turn(user.id, ref, body.prompt, options)
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
    timings = final.timings or {}
    usage = final.usage or {}
    result = wire.ChatImageResult(
        content=final.content,
        model=final.model or engine.models[0],
        tokens=int(usage.get("completion_tokens", 0)),
        finish_reason=final.finish_reason or "stop",
        processing_time_ms=round(float(timings.get("total_ms") or 0.0)),
        session_id=session_id,
        message_id=final.id,
    )
    return Response(wire.encode_result(result), media_type="application/json")
