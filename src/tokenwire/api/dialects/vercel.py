"""The Vercel AI SDK's chat endpoints, as ``useChat`` with its default transport calls them.

    POST /api/chat                 the UI message stream of the reply to the last message
    GET  /api/chat/{id}/stream     resume: the reply still running in chat ``id``, from its
                                   start; 204 when none is (what the SDK's ``resume`` expects)

A chat is a conversation named by the chat ``id`` (made on first use; a conversation id
works too). When a chat is new to the server, the messages before the last one are stored
as its history. The last user message's ``id`` makes a resubmission idempotent; a
``regenerate-message`` asks for a new reply to it. Stopping in the SDK aborts the request,
which does not stop the reply (it can then be resumed); ``POST /api/v1/messages/{id}/cancel``
with the ``start`` chunk's ``messageId`` does. Errors: the HTTP status with
``{"type":"error","errorText"}`` as the body, which the SDK shows as the error message.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import dialect_route, status_headers
from tokenwire.api.streaming import EventStream
from tokenwire.engine import Engine
from tokenwire.errors import TokenwireError
from tokenwire.protocol.dialects import vercel_ui as wire
from tokenwire.protocol.options import ByKey, TurnOptions
from tokenwire.store import Message

NAME = "vercel"


def render_error(_: Request, exc: TokenwireError) -> Response:
    return Response(
        wire.error_chunk(exc.message),
        status_code=exc.status,
        media_type="application/json",
        headers=status_headers(exc),
    )


router = APIRouter(prefix="/api", tags=["vercel-ai-sdk"], route_class=dialect_route(render_error))


@router.post("/chat", responses={200: {"content": {"text/event-stream": {}}}}, response_model=None)
async def chat(request: Request, user: CurrentUser, engine: EngineDep) -> EventStream:
    body = wire.parse_request(await request.body())
    resubmittable = body.trigger == "submit-message"
    options = TurnOptions(
        system=body.system,
        images=body.images,
        client_message_id=body.prompt_id if resubmittable else None,
    )
    # A chat new to the server is made with the history the client sent before its prompt.
    ref = ByKey(NAME, body.chat_id, history=body.history)
    turn = await engine.start_turn(user.id, ref, body.prompt, options)
    return _stream(engine, turn.assistant_message)


@router.get(
    "/chat/{chat_id}/stream",
    responses={200: {"content": {"text/event-stream": {}}}, 204: {}},
    response_model=None,
)
async def resume(chat_id: str, user: CurrentUser, engine: EngineDep) -> EventStream | Response:
    conversation = await engine.find_conversation(user.id, ByKey(NAME, chat_id))
    running = [] if conversation is None else await engine.in_flight(conversation.id)
    if not running:
        return Response(status_code=204)
    return _stream(engine, running[-1])


def _stream(engine: Engine, reply: Message) -> EventStream:
    encoder = wire.UIMessageStreamEncoder()
    return EventStream(engine.follow(reply, -1), encoder, headers=wire.HEADERS)
