"""OpenAI Chat Completions, so the official SDKs (and tools built on them) can use tokenwire
as their base URL (``http://host:port/v1``, the tokenwire token as the API key).

    POST /v1/chat/completions   stream or not; ``stream_options.include_usage`` honoured
    GET  /v1/models, GET /v1/models/{model}

The request carries the whole conversation. The messages before the last one (a user
message, or a tool's result) are stored as the history of a new conversation, unless they
are exactly a conversation tokenwire answered (the same system text and turns, its last
reply and tool calls included; the digest of those is the conversation's key in the store):
then the new turn continues it. Every field of the request is honoured or refused by name
(``protocol/dialects/openai_request.py``); a ``model`` the server does not serve is a 404
``model_not_found``. System messages are kept in the conversation's metadata as
``system``. A client that goes away does not stop the
reply; ``POST /api/v1/messages/{id}/cancel`` does, the id being the completion id without
its ``chatcmpl-`` prefix.
"""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import dialect_route
from tokenwire.api.streaming import EventStream
from tokenwire.engine.transcript import call_infos
from tokenwire.errors import NotFound, TokenwireError
from tokenwire.protocol.dialects import openai_chat as wire
from tokenwire.protocol.dialects.timestamps import epoch_seconds
from tokenwire.protocol.events import MessageDelta, TokenLogprob
from tokenwire.protocol.options import ByHistory
from tokenwire.store.convert import isoformat

NAME = "openai"


def _error(exc: TokenwireError) -> bytes:
    code = "invalid_api_key" if exc.status == 401 else exc.code
    return wire.error_body(exc.message, status=exc.status, code=code, param=exc.param)


router = APIRouter(prefix="/v1", tags=["openai"], route_class=dialect_route(_error))


@router.get("/models")
async def list_models(_: CurrentUser, engine: EngineDep) -> Response:
    return Response(wire.model_list(engine.models), media_type="application/json")


@router.get("/models/{model:path}")
async def get_model(model: str, _: CurrentUser, engine: EngineDep) -> Response:
    if model not in engine.models:
        raise NotFound(f"The model '{model}' does not exist", code="model_not_found")
    return Response(wire.model_object(model), media_type="application/json")


@router.post("/completions", include_in_schema=False)
async def legacy_completions(_: CurrentUser) -> Response:
    """Legacy text completions are not served (docs/protocols.md says why); the answer says
    so in OpenAI's error shape rather than as an unknown path."""
    raise NotFound(
        "/v1/completions (legacy text completions) is not served; use /v1/chat/completions",
        code="unsupported_endpoint",
    )


@router.post(
    "/chat/completions",
    responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
    response_model=None,
)
async def chat_completions(request: Request, user: CurrentUser, engine: EngineDep) -> Response:
    call = wire.parse_request(await request.body())
    if call.model not in engine.models:
        # As OpenAI answers a model it does not serve; models.retrieve says the same.
        raise NotFound(
            f"The model '{call.model}' does not exist", code="model_not_found", param="model"
        )
    ref = ByHistory(NAME, call.history, call.system)
    turn = await engine.start_turn(user.id, ref, call.prompt, call.options)
    reply = turn.assistant_message
    model = call.model
    logprobs = call.options.sampling.logprobs
    if call.stream:
        encoder = wire.ChatCompletionChunkEncoder(
            model, include_usage=call.include_usage, logprobs=logprobs
        )
        return EventStream(engine.follow(reply, -1), encoder)
    tokens: list[TokenLogprob] | None = None
    if logprobs:
        # Log probabilities travel with the events only; the stored row keeps the text.
        tokens = []
        async for batch in engine.follow(reply, -1):
            for event in batch:
                if isinstance(event, MessageDelta) and event.logprobs is not msgspec.UNSET:
                    tokens += event.logprobs
    final = await engine.result(reply)
    usage = final.usage
    body = wire.completion(
        message_id=final.id,
        created=epoch_seconds(isoformat(final.created_at)),
        model=model,
        content=final.content,
        finish=final.finish_reason or "stop",
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        tool_calls=call_infos(final.metadata),
        logprobs=tokens,
    )
    return Response(body, media_type="application/json")
