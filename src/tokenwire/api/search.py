"""``GET /api/v1/search``: the user's own messages and conversation titles."""

from __future__ import annotations

from fastapi import APIRouter, Query

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.resources import Resource, answers
from tokenwire.errors import BadRequest
from tokenwire.protocol import resources as wire

router = APIRouter(prefix="/api/v1", tags=["search"])


@router.get("/search", response_model=None, responses=answers(wire.SearchResults))
async def search(
    user: CurrentUser,
    engine: EngineDep,
    q: str = Query(max_length=500),
    limit: int = Query(default=20, ge=1, le=100),
) -> Resource:
    """Ranked hits, best first: each word of ``q`` must match (as a word prefix)."""
    if not q.strip():
        raise BadRequest("q must not be empty", code="empty_query")
    hits = await engine.search(user.id, q, limit=limit)
    items = [
        wire.SearchHit(
            conversation_id=h.conversation_id,
            conversation_title=h.conversation_title,
            message_id=h.message_id,
            role=h.role,
            snippet=h.snippet,
            rank=h.rank,
        )
        for h in hits
    ]
    return Resource(wire.SearchResults(query=q, items=items))
