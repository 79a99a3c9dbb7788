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

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import dialect_route
from tokenwire.api.streaming import EventStream
from tokenwire.errors import NotFound, TokenwireError
from tokenwire.protocol.dialects import openai_chat as wire
from tokenwire.protocol.dialects.timestamps import epoch_seconds
from tokenwire.protocol.options import ByHistory, Sampling, TurnOptions
from tokenwire.store.convert import isoformat

NAME = "openai"


def _error(exc: TokenwireError) -> bytes:
    code = "invalid_api_key" if exc.status == 401 else exc.code
    return wire.error_body(exc.message, status=exc.status, code=code)


router = APIRouter(prefix="/v1", tags=["openai"], route_class=dialect_route(_error))


@router.get("/models")
async def list_models(_: CurrentUser, engine: EngineDep) -> Response:
    return Response(wire.model_list(engine.models), media_type="application/json")


@router.get("/models/{model:path}")
async def get_model(model: str, _: CurrentUser, engine: EngineDep) -> Response:
    if model not in engine.models:
        raise NotFound(f"The model '{model}' does not exist", code="model_not_found")
    return Response(wire.model_object(model), media_type="application/json")


@router.post(
    "/chat/completions",
    responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
    response_model=None,
)
async def chat_completions(request: Request, user: CurrentUser, engine: EngineDep) -> Response:
    call = wire.parse_request(await request.body())
    options = TurnOptions(
        system=call.system,
        images=call.images,
        sampling=Sampling(max_tokens=call.max_tokens, temperature=call.temperature),
    )
    ref = ByHistory(NAME, call.history, call.system)
    turn = await engine.start_turn(user.id, ref, call.prompt, options)
    reply = turn.assistant_message
    model = reply.model or engine.models[0]
    if call.stream:
        encoder = wire.ChatCompletionChunkEncoder(model, include_usage=call.include_usage)
        return EventStream(engine.follow(reply, -1), encoder)
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
    )
    return Response(body, media_type="application/json")
