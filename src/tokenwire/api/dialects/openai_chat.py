"""OpenAI Chat Completions, so the official SDKs (and tools built on them) can use tokenwire
as their base URL (``http://host:port/v1``, the tokenwire token as the API key).

    POST /v1/chat/completions   stream or not; ``stream_options.include_usage`` honoured
    GET  /v1/models, GET /v1/models/{model}

The request carries the whole conversation. The messages before the last user message are
stored as the history of a new conversation, unless they are exactly a conversation
tokenwire answered (the same system text and turns, its last reply included; the digest of
those is the conversation's key in the store): then the new turn continues it. The model
always comes from the server's provider; the ``model`` asked for is accepted whatever it
names. System messages are kept
in the conversation's metadata as ``system``. A client that goes away does not stop the
reply; ``POST /api/v1/messages/{id}/cancel`` does, the id being the completion id without
its ``chatcmpl-`` prefix.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokenwire.api.deps import CurrentUser, EngineDep, SettingsDep
from tokenwire.api.dialects import directory
from tokenwire.api.dialects.directory import DIALECT, import_history
from tokenwire.api.dialects.routes import dialect_route, status_headers
from tokenwire.api.streaming import EventStream
from tokenwire.engine import Engine
from tokenwire.errors import NotFound, ProviderError, TokenwireError, Unavailable
from tokenwire.ids import UserId
from tokenwire.protocol.dialects import openai_chat as wire
from tokenwire.protocol.dialects.timestamps import epoch_seconds
from tokenwire.protocol.dialects.turns import PriorTurn
from tokenwire.protocol.events import Event, MessageDelta, MessageEnd
from tokenwire.store import Conversation, SQLStore, User
from tokenwire.store.convert import isoformat
from tokenwire.store.records import MessageStatus

NAME = "openai"


def render_error(_: Request, exc: TokenwireError) -> Response:
    code = "invalid_api_key" if exc.status == 401 else exc.code
    body = wire.error_body(exc.message, status=exc.status, code=code)
    return Response(
        body, status_code=exc.status, media_type="application/json", headers=status_headers(exc)
    )


router = APIRouter(prefix="/v1", tags=["openai"], route_class=dialect_route(render_error))


def conversation_key(system: str | None, turns: Sequence[PriorTurn]) -> str:
    """A digest of a conversation as a client holds it: equal digests, equal histories."""
    payload = msgspec.json.encode([system, [[t.role, t.content, list(t.images)] for t in turns]])
    return hashlib.sha256(payload).hexdigest()


@router.get("/models")
async def list_models(_: CurrentUser, engine: EngineDep) -> Response:
    return Response(wire.model_list([engine.provider.model]), media_type="application/json")


@router.get("/models/{model:path}")
async def get_model(model: str, _: CurrentUser, engine: EngineDep) -> Response:
    if model != engine.provider.model:
        raise NotFound(f"The model '{model}' does not exist", code="model_not_found")
    return Response(wire.model_object(model), media_type="application/json")


async def _conversation(engine: Engine, user: User, call: wire.ChatCall) -> Conversation:
    """The conversation this call continues: the one whose stored history the client resent
    (found by its digest), else a new one holding the resent history."""
    key = conversation_key(call.system, call.history)
    if call.history:
        known = await directory.recall(engine.store, user.id, NAME, key)
        if known is not None:
            return known
    metadata: dict[str, Any] = {DIALECT: NAME}
    if call.system:
        metadata["system"] = call.system
    first = next((t.content for t in call.history if t.role == "user"), call.prompt)
    conversation = await engine.store.create_conversation(
        user.id, title=" ".join(first.split())[:80] or None, metadata=metadata, kind=NAME
    )
    await import_history(engine.store, user.id, conversation.id, call.history)
    return conversation


async def _remembering(
    events: AsyncIterator[list[Event]],
    store: SQLStore,
    user_id: UserId,
    conversation: Conversation,
    call: wire.ChatCall,
) -> AsyncIterator[list[Event]]:
    """Pass the events through; once the reply completes, name the conversation by the
    digest of the history the client now holds, so its next request continues it (on any
    instance, and after a restart)."""
    parts: list[str] = []
    async for batch in events:
        for event in batch:
            if isinstance(event, MessageDelta):
                parts.append(event.text)
            elif isinstance(event, MessageEnd) and event.finish_reason != "cancelled":
                turns = (*call.history, PriorTurn("user", call.prompt, call.images))
                turns += (PriorTurn("assistant", "".join(parts)),)
                key = conversation_key(call.system, turns)
                await directory.remember(store, user_id, NAME, key, conversation.id)
        yield batch


@router.post(
    "/chat/completions",
    responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
    response_model=None,
)
async def chat_completions(
    request: Request, user: CurrentUser, engine: EngineDep, settings: SettingsDep
) -> Response | EventStream:
    call = wire.parse_request(await request.body())
    engine.check_content(call.prompt)
    conversation = await _conversation(engine, user, call)
    turn = await engine.send(user.id, conversation.id, call.prompt, images=call.images)
    reply = turn.assistant_message
    model = reply.model or engine.provider.model
    events = _remembering(engine.follow(reply, -1), engine.store, user.id, conversation, call)
    if call.stream:
        encoder = wire.ChatCompletionChunkEncoder(model, include_usage=call.include_usage)
        return EventStream(events, encoder=encoder.encode, heartbeat_s=settings.sse_heartbeat_s)
    async for _batch in events:
        pass
    final = await engine.store.get_message(user.id, reply.id)
    if final.status is MessageStatus.INTERRUPTED:
        raise Unavailable("the server stopped before the reply finished", retry_after=1)
    if final.status is MessageStatus.ERROR:
        error = final.error or {}
        raise ProviderError(
            str(error.get("message", "the reply failed")),
            code=str(error.get("code", "provider_error")),
        )
    usage = final.usage or {}
    body = wire.completion(
        message_id=final.id,
        created=epoch_seconds(isoformat(final.created_at)),
        model=model,
        content=final.content,
        finish=final.finish_reason or "stop",
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        completion_tokens=int(usage.get("completion_tokens", 0)),
    )
    return Response(body, media_type="application/json")
