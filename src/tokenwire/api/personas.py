"""``GET /api/v1/personas``: the personas a conversation can be created with."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import HTTPConnection

from tokenwire.api.deps import CurrentUser, get_settings
from tokenwire.api.resources import Resource, answers
from tokenwire.api.resources import personas as persona_list
from tokenwire.personas import Personas
from tokenwire.protocol import resources as wire

router = APIRouter(prefix="/api/v1", tags=["personas"])


def get_personas(conn: HTTPConnection) -> Personas:
    """The app's personas: ``app.state.personas`` when the app set them up, else read once
    from the settings and kept there."""
    personas: Personas | None = getattr(conn.app.state, "personas", None)
    if personas is None:
        personas = Personas.from_settings(get_settings(conn))
        conn.app.state.personas = personas
    return personas


async def _personas(conn: HTTPConnection) -> Personas:
    return get_personas(conn)  # inline, not in the thread pool (``api/deps.py``)


PersonasDep = Annotated[Personas, Depends(_personas)]


@router.get("/personas", response_model=None, responses=answers(wire.PersonaList))
async def list_personas(user: CurrentUser, personas: PersonasDep) -> Resource:
    return Resource(persona_list(personas))
