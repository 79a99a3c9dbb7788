"""The ``message_stream`` WebSocket of seed 004.

    WS /ws/chat                 the user's own chat: one session per user, the same on
                                every connect; its id is the ``session_id`` of every frame
    WS /ws/chat/{session_id}    the session named ``session_id`` (made on first use), or
                                the conversation with that id
    GET /api/chat/messages      the history of ``/ws/chat``'s session, as the app reads it
                                (``getMessageHistory``): ``{"data": [...]}``, oldest first

Seed 004's ``ChatBackendClient`` opens plain ``/ws/chat`` and reconnects there after a
drop, with no session of its own on the wire: so plain ``/ws/chat`` is one session per
user, and a reconnect finds its context and its running reply (continued after the last
frame the dropped socket was written, ``api/deliveries.py``). A client that wants several
chats names each one in the path. Authentication as for every socket: ``Authorization: Bearer``
or ``?token=``. The frames are ``protocol/dialects/message_stream.py``'s codec.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.resources import Resource
from tokenwire.api.sockets import ConversationSocket, serve
from tokenwire.api.ws import open_socket
from tokenwire.engine import Engine
from tokenwire.protocol.dialects import message_stream as wire
from tokenwire.protocol.options import ByKey
from tokenwire.store import Conversation, MessageStatus, User
from tokenwire.store.convert import isoformat

NAME = "message_stream"
OWN_CHAT = "chat"  # the key of the session plain ``/ws/chat`` opens

router = APIRouter(tags=["message_stream"])


def agent_for(conversation: Conversation) -> wire.Agent:
    """The ``ai`` sender of a session: its persona, else the default assistant."""
    persona = conversation.persona or "assistant"
    return wire.Agent(id=persona, name=persona.replace("_", " ").title(), type="chat")


FINISHED = frozenset({MessageStatus.COMPLETE, MessageStatus.CANCELLED})


@router.get("/api/chat/messages")
async def own_chat_history(
    user: CurrentUser, engine: EngineDep, limit: int = 50, offset: int = 0
) -> Resource:
    """``/ws/chat``'s messages, oldest first: ``{"data": [{id, content, sender, timestamp,
    agentId, agentName, agentType}]}``, ``sender`` ``user`` or ``ai``. Only finished replies:
    the app shows every item as a message."""
    conversation = await engine.open_conversation(user.id, ByKey(NAME, OWN_CHAT))
    page = await engine.messages(user.id, conversation.id, limit=500)
    agent = agent_for(conversation)
    items = [
        wire.HistoryMessage(
            id=m.id,
            content=m.content,
            sender="user" if m.role == "user" else "ai",
            timestamp=isoformat(m.created_at),
            agentId=None if m.role == "user" else agent.id,
            agentName=None if m.role == "user" else agent.name,
            agentType=None if m.role == "user" else agent.type,
        )
        for m in page.items
        if m.role != "assistant" or m.status in FINISHED
    ]
    start = max(offset, 0)
    return Resource({"data": items[start : start + min(max(limit, 1), 500)]})


@router.websocket("/ws/chat")
async def new_session_socket(websocket: WebSocket) -> None:
    await _serve(websocket, None)


@router.websocket("/ws/chat/{session_id}")
async def session_socket(websocket: WebSocket, session_id: str) -> None:
    await _serve(websocket, session_id)


async def _serve(websocket: WebSocket, session_id: str | None) -> None:
    async def find(engine: Engine, user: User) -> Conversation:
        return await engine.open_conversation(user.id, ByKey(NAME, session_id or OWN_CHAT))

    opened = await open_socket(websocket, find)
    if opened is not None:
        engine, user, conversation = opened
        codec = wire.MessageStreamCodec(session_id or conversation.id, agent_for(conversation))
        await serve(ConversationSocket(websocket, engine, user, conversation, codec))
