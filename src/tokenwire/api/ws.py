"""The canonical WebSocket, ``/api/v1/conversations/{cid}/ws``, and the handshake every
WebSocket route shares.

Every socket open on a conversation receives every reply that starts in it (two tabs see
the same stream). A reply already running when the socket opened is followed on request,
with ``stream.resume``. Client rules that make this exact: ``message.start`` resets a
message's text; a delta whose seq is not above the last one applied is dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse

from tokenwire.api.deps import authenticate, get_engine
from tokenwire.api.errors import error_response
from tokenwire.api.sockets import ConversationSocket, serve
from tokenwire.engine import Engine
from tokenwire.errors import TokenwireError
from tokenwire.protocol.codec import CanonicalCodec
from tokenwire.store.records import Conversation, User

router = APIRouter(prefix="/api/v1", tags=["websocket"])


async def deny(websocket: WebSocket, exc: TokenwireError) -> None:
    """Refuse the handshake with a real HTTP status (401, 404) where the server can send one."""
    response: JSONResponse = error_response(exc)
    try:
        await websocket.send_denial_response(response)
    except RuntimeError:
        await websocket.close(code=4000 + exc.status, reason=exc.message[:120])


async def open_socket(
    websocket: WebSocket, find: Callable[[Engine, User], Awaitable[Conversation]]
) -> tuple[Engine, User, Conversation] | None:
    """Authenticate and ``find`` the socket's conversation before accepting; ``None`` when
    the handshake was refused."""
    engine = get_engine(websocket)
    try:
        user = await authenticate(websocket)
        conversation = await find(engine, user)
    except TokenwireError as exc:
        await deny(websocket, exc)
        return None
    return engine, user, conversation


@router.websocket("/conversations/{cid}/ws")
async def conversation_socket(websocket: WebSocket, cid: str) -> None:
    opened = await open_socket(websocket, lambda engine, user: engine.conversation(user.id, cid))
    if opened is not None:
        await serve(ConversationSocket(websocket, *opened, CanonicalCodec()))
