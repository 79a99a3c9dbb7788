"""Messages: history, sending (SSE, JSON, or accepted for later), following and cancelling."""

from __future__ import annotations

from fastapi import APIRouter, Header, Query, Request

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.resources import Resource, answers, message
from tokenwire.api.schemas import SendMessage
from tokenwire.api.streaming import EventStream
from tokenwire.engine import Engine
from tokenwire.errors import BadRequest
from tokenwire.protocol import resources as wire
from tokenwire.protocol.option_fields import decode_options
from tokenwire.protocol.options import ROOT, ById, TurnOptions
from tokenwire.store.records import Turn

router = APIRouter(prefix="/api/v1", tags=["messages"])


def wants_event_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


@router.get(
    "/conversations/{cid}/messages",
    response_model=None,
    responses=answers(wire.Page[wire.Message]),
)
async def list_messages(
    cid: str,
    user: CurrentUser,
    engine: EngineDep,
    limit: int = Query(default=100, ge=1, le=500),
    before: str | None = None,
    leaf: str | None = None,
) -> Resource:
    """The current branch, root to leaf (``?leaf=MID``: the branch through that message):
    its newest ``limit`` messages before ``before``, oldest first."""
    page = await engine.messages(user.id, cid, limit=limit, before=before, leaf=leaf)
    return Resource(wire.Page([message(m) for m in page.items], page.next_before))


# 200: the reply as SSE (Accept: text/event-stream), or the first turn of a repeated send.
_SENT_AGAIN_OR_STREAMED = {
    "description": "The reply as it streams, or the turn of a repeated client_message_id",
    "content": {**answers(wire.SentTurn)[200]["content"], "text/event-stream": {}},
}


@router.post(
    "/conversations/{cid}/messages",
    responses={
        **answers(wire.SentTurn, 201, "The turn, its reply final"),
        200: _SENT_AGAIN_OR_STREAMED,
        **answers(wire.SentTurn, 202, "The turn, its reply still streaming (wait=false)"),
    },
    status_code=201,
    response_model=None,
)
async def send_message(
    cid: str,
    body: SendMessage,
    request: Request,
    user: CurrentUser,
    engine: EngineDep,
    wait: bool = True,
) -> EventStream | Resource:
    """Send a user message. ``Accept: text/event-stream`` streams the reply; otherwise the
    JSON answer comes once the reply is complete, or at once (202) with ``wait=false``."""
    parent = body.parent_id
    if "parent_id" in body.model_fields_set and parent is None:
        parent = ROOT
    options = TurnOptions(
        client_message_id=body.client_message_id,
        images=tuple(body.images),
        tool_call_id=body.tool_call_id,
        parent_id=parent,
        **decode_options(body.model_extra or {}),
    )
    turn = await engine.start_turn(user.id, ById(cid), body.content, options)
    return await answer_turn(engine, turn, streamed=wants_event_stream(request), wait=wait)


async def answer_turn(
    engine: Engine, turn: Turn, *, streamed: bool, wait: bool
) -> EventStream | Resource:
    """A started turn as answered: its reply streamed (SSE), the turn at once (202, with
    ``wait=false``), or once the reply is final (201; 200 for a repeated send)."""
    reply = turn.assistant_message
    if streamed:
        return EventStream(engine.follow(reply, -1))
    if not wait:
        shown = await engine.with_siblings([turn.user_message, reply])
        return Resource(
            wire.SentTurn(
                user_message=message(shown[0]),
                assistant_message=message(shown[1]),
                events_url=f"/api/v1/messages/{reply.id}/events",
            ),
            202,
        )
    final = await engine.wait(reply)
    shown = await engine.with_siblings([turn.user_message, final])
    return Resource(
        wire.SentTurn(user_message=message(shown[0]), assistant_message=message(shown[1])),
        201 if turn.created else 200,
    )


@router.get("/messages/{mid}", response_model=None, responses=answers(wire.Message))
async def get_message(mid: str, user: CurrentUser, engine: EngineDep) -> Resource:
    return Resource(message(await engine.message(user.id, mid)))


def _resume_point(last_event_id: str | None, after: int | None) -> int:
    if after is not None:
        return after
    if last_event_id is None or not last_event_id.strip():
        return -1
    try:
        return int(last_event_id)
    except ValueError:
        raise BadRequest(f"Last-Event-ID must be a seq number, not {last_event_id!r}") from None


@router.get(
    "/messages/{mid}/events",
    responses={200: {"content": {"text/event-stream": {}}}},
    response_model=None,
)
async def message_events(
    mid: str,
    user: CurrentUser,
    engine: EngineDep,
    after: int | None = Query(default=None, ge=-1),
    last_event_id: str | None = Header(default=None),
) -> EventStream:
    """Replay the reply's events after ``Last-Event-ID`` (or ``?after=``), then follow it live
    to its end; the stream then closes."""
    position = _resume_point(last_event_id, after)
    reply = await engine.reply(user.id, mid)
    return EventStream(engine.follow(reply, position))


@router.post("/messages/{mid}/cancel", response_model=None, responses=answers(wire.Message))
async def cancel_message(mid: str, user: CurrentUser, engine: EngineDep) -> Resource:
    """Stop a reply; the partial text is kept. Cancelling an ended reply changes nothing."""
    cancelled = engine.live(await engine.cancel(user.id, mid))
    return Resource(message((await engine.with_siblings([cancelled]))[0]))
