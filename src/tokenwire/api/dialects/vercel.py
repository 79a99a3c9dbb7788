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

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokenwire.api.deps import CurrentUser, EngineDep, SettingsDep
from tokenwire.api.dialects import directory
from tokenwire.api.dialects.directory import import_history
from tokenwire.api.dialects.routes import dialect_route, status_headers
from tokenwire.api.streaming import EventStream
from tokenwire.errors import TokenwireError
from tokenwire.protocol.dialects import vercel_ui as wire

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
async def chat(
    request: Request, user: CurrentUser, engine: EngineDep, settings: SettingsDep
) -> EventStream:
    body = wire.parse_request(await request.body())
    engine.check_content(body.prompt)
    metadata: dict[str, Any] = {"system": body.system} if body.system else {}
    conversation, created = await directory.get_or_create(
        engine.store,
        user.id,
        NAME,
        body.chat_id,
        title=" ".join(body.prompt.split())[:80] or None,
        metadata=metadata,
    )
    if created and body.history:
        await import_history(engine.store, user.id, conversation.id, body.history)
    resubmittable = body.trigger == "submit-message"
    turn = await engine.send(
        user.id,
        conversation.id,
        body.prompt,
        client_message_id=body.prompt_id if resubmittable else None,
        images=body.images,
    )
    return EventStream(
        engine.follow(turn.assistant_message, -1),
        encoder=wire.UIMessageStreamEncoder().encode,
        heartbeat_s=settings.sse_heartbeat_s,
        headers=wire.HEADERS,
    )


@router.get(
    "/chat/{chat_id}/stream",
    responses={200: {"content": {"text/event-stream": {}}}, 204: {}},
    response_model=None,
)
async def resume(
    chat_id: str, request: Request, user: CurrentUser, engine: EngineDep, settings: SettingsDep
) -> EventStream | Response:
    conversation = await directory.find(engine.store, user.id, NAME, chat_id)
    running = [] if conversation is None else await engine.in_flight(conversation.id)
    if not running:
        return Response(status_code=204)
    return EventStream(
        engine.follow(running[-1], -1),
        encoder=wire.UIMessageStreamEncoder().encode,
        heartbeat_s=settings.sse_heartbeat_s,
        headers=wire.HEADERS,
    )
