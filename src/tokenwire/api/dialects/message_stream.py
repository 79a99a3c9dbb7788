"""The ``message_stream`` WebSocket of seed 004.

    WS /ws/chat                 a new session; its id is the ``session_id`` of every frame
    WS /ws/chat/{session_id}    the session named ``session_id`` (made on first use), or
                                the conversation with that id

Seed 004 names no path; its client opens one socket per chat (``ChatBackendClient``), so
the session is in the path. Authentication as for every socket: ``Authorization: Bearer``
or ``?token=``. A client frame that cannot be acted on is answered with a complete
``message`` from sender ``system`` whose ``metadata.error`` is the error code: the seed's
client shows every non-user message, and has no other error frame.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, WebSocket

from tokenwire.api.deps import authenticate, get_engine
from tokenwire.api.dialects import directory
from tokenwire.api.dialects.sockets import ReplySocket, serve
from tokenwire.api.ws import deny
from tokenwire.errors import TokenwireError
from tokenwire.ids import uuid7
from tokenwire.protocol.dialects import message_stream as wire
from tokenwire.protocol.events import Event
from tokenwire.store import Conversation

NAME = "message_stream"

router = APIRouter(tags=["message_stream"])


def agent_for(conversation: Conversation) -> wire.Agent:
    """The ``ai`` sender of a session: its persona, else the default assistant."""
    persona = conversation.persona or "assistant"
    return wire.Agent(id=persona, name=persona.replace("_", " ").title(), type="chat")


class MessageStreamSocket(ReplySocket):
    def __init__(self, *args: Any, session_id: str) -> None:
        super().__init__(*args)
        self.encoder = wire.MessageStreamEncoder(session_id, agent_for(self.conversation))

    def frames(self, event: Event, *, own: bool) -> list[bytes]:
        return self.encoder.encode(event)

    def rejected(self, code: str, message: str) -> bytes:
        return self.encoder.complete_message(
            uuid7(), f"Error: {message}", sender="system", metadata={"error": code}
        )

    async def handle(self, data: str) -> None:
        frame = wire.decode_client_frame(data)
        if isinstance(frame, wire.Ping):
            await self.send(wire.pong())
        elif isinstance(frame, wire.SendMessage):
            await self.send_message(frame.content, frame.id)
        else:
            await self.cancel_running()


@router.websocket("/ws/chat")
async def new_session_socket(websocket: WebSocket) -> None:
    await _open(websocket, None)


@router.websocket("/ws/chat/{session_id}")
async def session_socket(websocket: WebSocket, session_id: str) -> None:
    await _open(websocket, session_id)


async def _open(websocket: WebSocket, session_id: str | None) -> None:
    engine = get_engine(websocket)
    try:
        user = await authenticate(websocket)
        if session_id is None:
            conversation = await engine.store.create_conversation(
                user.id, metadata={"_dialect": NAME}
            )
        else:
            conversation, _ = await directory.get_or_create(engine.store, user.id, NAME, session_id)
    except TokenwireError as exc:
        await deny(websocket, exc)
        return
    await websocket.accept()
    socket = MessageStreamSocket(
        websocket, engine, user, conversation, session_id=session_id or conversation.id
    )
    await serve(socket)
