"""Seed 004's React client, ported from its TypeScript: ``ChatBackendClient``
(``src/icui/services/chatBackendClient.tsx``) and the ``useChatMessages`` hook.

What matters on the wire: the client opens plain ``/ws/chat`` and reconnects there after a
close; it clears ``processedMessageIds`` on close but keeps ``streamingMessage``, so chunks
after a reconnect go on appending to the message being streamed; ``stream_start`` makes a
new, empty message with the frame's id, which the hook puts in place of one with the same
id; the hook drops ``sender == 'user'`` echoes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

from websockets.sync.client import ClientConnection, connect


@dataclass
class ChatMessage:
    id: str
    content: str
    sender: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Client:
    """``ChatBackendClient`` with the hook's ``messages`` state."""

    url: str  # the WebSocket URL the app builds: constructWebSocketUrl('/ws/chat')
    messages: list[ChatMessage] = field(default_factory=list)  # the hook's state
    streaming_message: ChatMessage | None = None
    processed_message_ids: set[str] = field(default_factory=set)
    ws: ClientConnection | None = None
    frames: list[dict[str, Any]] = field(default_factory=list)

    def connect(self) -> None:
        self.ws = connect(self.url).__enter__()

    def close(self) -> None:
        """``handleWebSocketClose``: the ids are forgotten, the streaming message is kept."""
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        self.processed_message_ids.clear()

    def send(self, content: str) -> None:
        assert self.ws is not None
        message = {
            "type": "message",
            "content": content,
            "sender": "user",
            "timestamp": int(time.time() * 1000),
            "metadata": {"agentType": "openai"},
        }
        self.ws.send(json.dumps(message))

    def receive(self, timeout: float = 20) -> dict[str, Any]:
        assert self.ws is not None
        data: dict[str, Any] = json.loads(self.ws.recv(timeout=timeout))
        self.frames.append(data)
        if data.get("type") == "message":
            self._complete(data)
        elif data.get("type") == "message_stream":
            self._streaming(data)
        return data

    def _complete(self, data: dict[str, Any]) -> None:
        message_id = data.get("id") or str(time.time())
        if message_id in self.processed_message_ids:
            return
        self.processed_message_ids.add(message_id)
        self._notify(
            ChatMessage(message_id, data["content"], data.get("sender") or "ai", {"done": True})
        )

    def _streaming(self, data: dict[str, Any]) -> None:
        if data.get("stream_start"):
            message_id = data.get("id") or str(time.time())
            self.processed_message_ids.add(message_id)
            self.streaming_message = ChatMessage(message_id, "", "ai", {"isStreaming": True})
            self._notify(self.streaming_message)
        elif data.get("stream_chunk") and self.streaming_message is not None:
            self.streaming_message.content += data["chunk"]
            self._notify(replace(self.streaming_message, metadata={"isStreaming": True}))
        elif data.get("stream_end") and self.streaming_message is not None:
            done = {"isStreaming": False, "streamComplete": True}
            self._notify(replace(self.streaming_message, metadata=done))
            self.streaming_message = None

    def _notify(self, message: ChatMessage) -> None:
        """The hook's ``onMessage``: user echoes dropped, same id replaced, else appended."""
        if message.sender == "user":
            return
        for i, known in enumerate(self.messages):
            if known.id == message.id:
                self.messages[i] = replace(message)
                return
        self.messages.append(replace(message))

    def until_end(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.receive(timeout=deadline - time.monotonic()).get("stream_end"):
                return
        raise AssertionError("no stream_end")
