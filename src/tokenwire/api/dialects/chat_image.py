"""The image chat of seed 003, as its AI engine serves it.

    POST /api/v1/chat-image-stream {base64_image, prompt, subject, session_id, student_id}
         -> SSE start / content / end / error
    POST /api/v1/chat-image  (same body) -> ``ChatImageResult`` JSON

The seed's "Stop Generating" cancels the client's request only. Errors: the seed's
``{"type":"error","error"}`` (an SSE event on the streaming endpoint).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import SSE, dialect_route
from tokenwire.api.resources import message
from tokenwire.api.streaming import EventStream
from tokenwire.protocol.dialects import chat_image as wire

router = APIRouter(
    prefix="/api/v1",
    tags=["chat-image"],
    route_class=dialect_route(wire.refusal, wire.refusal_event),
)


@router.post("/chat-image-stream", responses=SSE, response_model=None)
async def chat_image_stream(request: Request, user: CurrentUser, engine: EngineDep) -> EventStream:
    asked = wire.turn(wire.parse_request(await request.body()))
    turn = await engine.start_turn(user.id, asked.ref, asked.prompt, asked.options)
    return EventStream(engine.follow(turn.assistant_message, -1), wire.ChatImageEncoder())


@router.post("/chat-image")
async def chat_image(request: Request, user: CurrentUser, engine: EngineDep) -> Response:
    """The whole reply at once: the fallback the seed keeps beside the stream."""
    body = wire.parse_request(await request.body())
    asked = wire.turn(body)
    turn = await engine.start_turn(user.id, asked.ref, asked.prompt, asked.options)
    final = message(await engine.result(turn.assistant_message))
    result = wire.result(final, body, engine.models[0])
    return Response(wire.encode_result(result), media_type="application/json")
