"""``/api/v1/conversations``: create, list, read, rename and delete."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.personas import PersonasDep
from tokenwire.api.resources import Resource, answers, conversation
from tokenwire.api.schemas import CreateConversation, UpdateConversation
from tokenwire.errors import Unprocessable
from tokenwire.protocol import resources as wire

router = APIRouter(prefix="/api/v1", tags=["conversations"])


@router.post(
    "/conversations",
    status_code=201,
    response_model=None,
    responses=answers(wire.Conversation, 201),
)
async def create_conversation(
    body: CreateConversation, user: CurrentUser, engine: EngineDep, personas: PersonasDep
) -> Resource:
    if body.persona is not None:
        personas.require(body.persona)  # 422 naming the known ones
    created = await engine.create_conversation(
        user.id, title=body.title, persona=body.persona, model=body.model, metadata=body.metadata
    )
    return Resource(conversation(created), 201)


@router.get("/conversations", response_model=None, responses=answers(wire.Page[wire.Conversation]))
async def list_conversations(
    user: CurrentUser,
    engine: EngineDep,
    limit: int = Query(default=50, ge=1, le=200),
    before: str | None = None,
) -> Resource:
    page = await engine.conversations(user.id, limit=limit, before=before)
    return Resource(wire.Page([conversation(c) for c in page.items], page.next_before))


@router.get("/conversations/{cid}", response_model=None, responses=answers(wire.Conversation))
async def get_conversation(cid: str, user: CurrentUser, engine: EngineDep) -> Resource:
    return Resource(conversation(await engine.conversation(user.id, cid)))


@router.patch("/conversations/{cid}", response_model=None, responses=answers(wire.Conversation))
async def update_conversation(
    cid: str, body: UpdateConversation, user: CurrentUser, engine: EngineDep, personas: PersonasDep
) -> Resource:
    if body.persona is not None:
        personas.require(body.persona)
    changes = body.model_dump(exclude_unset=True)
    if "current_leaf_id" in changes:
        leaf = changes.pop("current_leaf_id")
        if leaf is None:
            raise Unprocessable("current_leaf_id must name a message", code="invalid_leaf")
        updated = await engine.switch_branch(user.id, cid, leaf)
        if not changes:
            return Resource(conversation(updated))
    return Resource(conversation(await engine.update_conversation(user.id, cid, **changes)))


@router.delete("/conversations/{cid}", status_code=204)
async def delete_conversation(cid: str, user: CurrentUser, engine: EngineDep) -> Response:
    await engine.delete_conversation(user.id, cid)
    return Response(status_code=204)
