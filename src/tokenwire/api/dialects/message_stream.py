"""The ``message_stream`` WebSocket of seed 004.

    WS /ws/chat                 the user's own chat (``wire.session``); its id is the
                                ``session_id`` of every frame
    WS /ws/chat/{session_id}    the session named ``session_id``
    GET /api/chat/messages      the history of ``/ws/chat``'s session, as the app reads it
                                (``getMessageHistory``): ``{"data": [...]}``, oldest first

A reconnect to the same session finds its context and its running reply (continued after
the last frame the dropped socket was written, ``api/deliveries.py``).
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.dialects.routes import serve_socket
from tokenwire.api.resources import Resource, shown
from tokenwire.protocol.dialects import message_stream as wire
from tokenwire.protocol.resources import Window

router = APIRouter(tags=["message_stream"])


@router.get("/api/chat/messages")
async def own_chat_history(
    user: CurrentUser, engine: EngineDep, limit: int = 50, offset: int = 0
) -> Resource:
    """``/ws/chat``'s messages, oldest first: ``{"data": [{id, content, sender, timestamp,
    agentId, agentName, agentType}]}``. Only finished replies: the app shows every item as
    a message."""
    conversation = await engine.open_conversation(user.id, wire.session(None))
    answers = Window.of(limit, offset).cut(await shown(engine, user.id, conversation.id))
    return Resource({"data": wire.history(answers, wire.agent(conversation.persona))})


@router.websocket("/ws/chat")
async def own_chat_socket(websocket: WebSocket) -> None:
    await session_socket(websocket, None)


@router.websocket("/ws/chat/{session_id}")
async def session_socket(websocket: WebSocket, session_id: str | None) -> None:
    await serve_socket(
        websocket,
        lambda engine, user: engine.open_conversation(user.id, wire.session(session_id)),
        lambda c: wire.MessageStreamCodec(session_id or c.id, wire.agent(c.persona)),
    )
