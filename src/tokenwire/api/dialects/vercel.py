"""The Vercel AI SDK's chat endpoints, as ``useChat`` with its default transport calls them.

    POST /api/chat                 the UI message stream of the reply to the last message
    GET  /api/chat/{id}/stream     resume: the reply still running in chat ``id``, from its
                                   start; 204 when none is (what the SDK's ``resume`` expects)

Stopping in the SDK aborts the request, so the reply can then be resumed. Errors:
``{"type":"error","errorText"}``, which the SDK shows as the error message.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import SSE, dialect_route
from tokenwire.api.streaming import EventStream
from tokenwire.engine import Engine
from tokenwire.protocol.dialects import vercel_ui as wire
from tokenwire.protocol.options import ByKey
from tokenwire.store import Message

router = APIRouter(prefix="/api", tags=["vercel-ai-sdk"], route_class=dialect_route(wire.refusal))


@router.post("/chat", responses=SSE, response_model=None)
async def chat(request: Request, user: CurrentUser, engine: EngineDep) -> EventStream:
    asked = wire.turn(wire.parse_request(await request.body()))
    turn = await engine.start_turn(user.id, asked.ref, asked.prompt, asked.options)
    return _stream(engine, turn.assistant_message)


@router.get("/chat/{chat_id}/stream", responses={**SSE, 204: {}}, response_model=None)
async def resume(chat_id: str, user: CurrentUser, engine: EngineDep) -> EventStream | Response:
    reply = await engine.running(user.id, ByKey(wire.KIND, chat_id))
    return Response(status_code=204) if reply is None else _stream(engine, reply)


def _stream(engine: Engine, reply: Message) -> EventStream:
    """The reply from its start, in the UI message stream with the SDK's headers."""
    return EventStream(
        engine.follow(reply, -1), wire.UIMessageStreamEncoder(), headers=wire.HEADERS
    )
