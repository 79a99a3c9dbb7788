"""``/api/v1/conversations``: create, list, read, rename and delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.personas import PersonasDep
from tokenwire.api.schemas import CreateConversation, UpdateConversation, conversation_json

router = APIRouter(prefix="/api/v1", tags=["conversations"])


@router.post("/conversations", status_code=201)
async def create_conversation(
    body: CreateConversation, user: CurrentUser, engine: EngineDep, personas: PersonasDep
) -> dict[str, Any]:
    if body.persona is not None:
        personas.require(body.persona)  # 422 naming the known ones
    conversation = await engine.create_conversation(
        user.id, title=body.title, persona=body.persona, model=body.model, metadata=body.metadata
    )
    return conversation_json(conversation)


@router.get("/conversations")
async def list_conversations(
    user: CurrentUser,
    engine: EngineDep,
    limit: int = Query(default=50, ge=1, le=200),
    before: str | None = None,
) -> dict[str, Any]:
    page = await engine.conversations(user.id, limit=limit, before=before)
    return {"items": [conversation_json(c) for c in page.items], "next_before": page.next_before}


@router.get("/conversations/{cid}")
async def get_conversation(cid: str, user: CurrentUser, engine: EngineDep) -> dict[str, Any]:
    return conversation_json(await engine.conversation(user.id, cid))


@router.patch("/conversations/{cid}")
async def update_conversation(
    cid: str, body: UpdateConversation, user: CurrentUser, engine: EngineDep, personas: PersonasDep
) -> dict[str, Any]:
    if body.persona is not None:
        personas.require(body.persona)
    changes = body.model_dump(exclude_unset=True)
    conversation = await engine.update_conversation(user.id, cid, **changes)
    return conversation_json(conversation)


@router.delete("/conversations/{cid}", status_code=204)
async def delete_conversation(cid: str, user: CurrentUser, engine: EngineDep) -> Response:
    await engine.delete_conversation(user.id, cid)
    return Response(status_code=204)
