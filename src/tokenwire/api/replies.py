"""Another reply, or more of one: ``/api/v1/messages/{mid}/regenerate`` and ``/continue``.

Both answer as a send does: the reply as SSE with ``Accept: text/event-stream``, else JSON
once it is final (or at once, 202, with ``wait=false``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.messages import answer_turn, wants_event_stream
from tokenwire.api.resources import Resource, answers, message
from tokenwire.api.streaming import EventStream
from tokenwire.protocol import resources as wire

router = APIRouter(prefix="/api/v1", tags=["messages"])

_STREAMED = {"description": "The reply as it streams", "content": {"text/event-stream": {}}}


@router.post(
    "/messages/{mid}/regenerate",
    status_code=201,
    response_model=None,
    responses={
        **answers(wire.SentTurn, 201, "The user message and the new reply, final"),
        200: _STREAMED,
        **answers(wire.SentTurn, 202, "The new reply, still streaming (wait=false)"),
    },
)
async def regenerate(
    mid: str, request: Request, user: CurrentUser, engine: EngineDep, wait: bool = True
) -> EventStream | Resource:
    """A new reply to the user message that the reply ``mid`` answers: a sibling of it,
    and the conversation's leaf. The old reply is kept."""
    turn = await engine.regenerate(user.id, mid)
    return await answer_turn(engine, turn, streamed=wants_event_stream(request), wait=wait)


@router.post(
    "/messages/{mid}/continue",
    response_model=None,
    responses={
        200: {
            "description": "The reply, final (JSON), or as it streams (SSE)",
            "content": {**answers(wire.Message)[200]["content"], "text/event-stream": {}},
        },
        **answers(wire.Message, 202, "The reply, streaming again (wait=false)"),
    },
)
async def continue_reply(
    mid: str, request: Request, user: CurrentUser, engine: EngineDep, wait: bool = True
) -> EventStream | Resource:
    """Have the model go on with a reply that ended ``length``, ``cancelled`` or
    ``interrupted``. Its text grows in place and its seqs go on. As SSE, the whole reply
    from its ``message.start`` (which resets a client's text, as always), the text it had
    then the new; with ``wait=false`` (202), the reply, whose ``seq`` is where following it
    (``/events?after=seq``) gives exactly the new text."""
    reply = await engine.continue_reply(user.id, mid)
    if wants_event_stream(request):
        return EventStream(engine.follow(reply, -1))
    if not wait:
        shown = (await engine.with_siblings([reply]))[0]
        return Resource(message(shown), 202)
    final = await engine.wait(reply)
    return Resource(message((await engine.with_siblings([final]))[0]))
