"""OpenAI Chat Completions, so the official SDKs (and tools built on them) can use tokenwire
as their base URL (``http://host:port/v1``, the tokenwire token as the API key).

    POST /v1/chat/completions   stream or not; ``stream_options.include_usage`` honoured
    GET  /v1/models, GET /v1/models/{model}

The request carries the whole conversation, which names the one it continues
(``ChatCall.turn``); every field of it is honoured or refused by name
(``protocol/dialects/openai_request.py``). A reply's message id is its completion id
without the ``chatcmpl-`` prefix.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import dialect_route
from tokenwire.api.resources import message
from tokenwire.api.streaming import EventStream
from tokenwire.engine.transcript import call_infos
from tokenwire.errors import NotFound
from tokenwire.protocol.dialects import openai_chat as wire

router = APIRouter(prefix="/v1", tags=["openai"], route_class=dialect_route(wire.refusal))


@router.get("/models")
async def list_models(_: CurrentUser, engine: EngineDep) -> Response:
    return Response(wire.model_list(engine.models), media_type="application/json")


@router.get("/models/{model:path}")
async def get_model(model: str, _: CurrentUser, engine: EngineDep) -> Response:
    return Response(wire.model_object(engine.model(model)), media_type="application/json")


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
    model, asked = engine.model(call.model, param="model"), call.turn
    turn = await engine.start_turn(user.id, asked.ref, asked.prompt, asked.options)
    reply = turn.assistant_message
    if call.stream:
        return EventStream(engine.follow(reply, -1), wire.encoder(call))
    tokens = None
    if call.options.sampling.logprobs:  # they travel with the live events only, not the row
        tokens = [t async for b in engine.follow(reply) for t in wire.logprobs_of(b)]
    final = await engine.result(reply)
    calls = call_infos(final.metadata)
    body = wire.answer(message(final), model, tool_calls=calls, logprobs=tokens)
    return Response(body, media_type="application/json")
