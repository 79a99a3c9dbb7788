"""Clients that follow one reply each, in a thread, over every wire the server speaks, and
remember what they assembled and how (and whether) the reply ended for them.

Chaos tests start a few, break something, and then check every one of them: it ended (a
terminal event, or an error and a close) within a deadline, and its text is the stored
text or a prefix of it.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.helpers.server import Server, sse_events


class Follower:
    """One client following one reply. ``outcome`` is how it ended (``end``, ``error:<code>``,
    ``closed``) or ``None`` while it has not."""

    name = "follower"

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.reply_id: str | None = None
        self.outcome: str | None = None
        self.problem: str | None = None  # how it ended badly: EOF with no end, an exception
        self.started = threading.Event()  # the first text arrived
        self._thread = threading.Thread(target=self._guarded, daemon=True)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def start(self) -> Follower:
        self._thread.start()
        return self

    def wait_started(self, timeout: float = 60) -> None:
        if not self.started.wait(timeout):
            raise AssertionError(f"{self.name}: no text within {timeout} s ({self.problem})")

    def join(self, timeout: float) -> bool:
        """Whether it ended within ``timeout`` seconds."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _guarded(self) -> None:
        try:
            self.run()
        except Exception as exc:  # reported by the test, which checks ``problem``
            self.problem = f"{type(exc).__name__}: {exc}"

    def run(self) -> None:
        raise NotImplementedError

    def _text(self, text: str) -> None:
        self.parts.append(text)
        self.started.set()


class SSEFollower(Follower):
    """``GET /api/v1/messages/{id}/events`` from the start."""

    name = "sse"

    def __init__(self, server: Server, reply_id: str) -> None:
        super().__init__()
        self.server = server
        self.reply_id = reply_id

    def run(self) -> None:
        with (
            httpx.Client(base_url=self.server.url, headers=self.server.headers(), timeout=120) as c,
            c.stream("GET", f"/api/v1/messages/{self.reply_id}/events") as response,
        ):
            for event in sse_events(response):
                if event["type"] == "message.delta":
                    self._text(event["text"])
                elif event["type"] == "message.end":
                    self.outcome = "end"
                    return
                elif event["type"] == "message.error":
                    self.outcome = f"error:{event['error']['code']}"
                    return
        self.problem = "the stream ended with no terminal event"


class _SocketFollower(Follower):
    """A WebSocket that sends one message and follows its reply."""

    def __init__(self, url: str, content: str) -> None:
        super().__init__()
        self.url = url
        self.content = content

    def run(self) -> None:
        with connect(self.url, max_size=None, open_timeout=60) as ws:
            self.converse(ws)

    def converse(self, ws: ClientConnection) -> None:
        raise NotImplementedError

    def frames(self, ws: ClientConnection) -> Any:
        while True:
            try:
                yield json.loads(ws.recv(timeout=120))
            except ConnectionClosed:
                if self.outcome is None:
                    self.outcome = "closed"
                return


class CanonicalSocketFollower(_SocketFollower):
    """``/api/v1/conversations/{cid}/ws``: sends ``message.send`` (unless ``content`` is
    empty), follows the reply that starts."""

    name = "canonical-ws"
    ready: threading.Event

    def __init__(self, server: Server, cid: str, content: str) -> None:
        super().__init__(
            f"{server.ws_url}/api/v1/conversations/{cid}/ws?token={server.token}", content
        )
        self.ready = threading.Event()  # the socket is open and watching

    def converse(self, ws: ClientConnection) -> None:
        if self.content:
            ws.send(json.dumps({"type": "message.send", "content": self.content}))
        # else: the first reply to start in the conversation, wherever it was sent
        self.ready.set()
        for frame in self.frames(ws):
            kind = frame["type"]
            if kind == "message.start":
                self.reply_id = frame["message_id"]
            elif kind == "message.delta" and frame["message_id"] == self.reply_id:
                self._text(frame["text"])
            elif kind == "message.end" and frame["message_id"] == self.reply_id:
                self.outcome = "end"
                return
            elif kind == "message.error" and frame["message_id"] == self.reply_id:
                self.outcome = f"error:{frame['error']['code']}"
                return
            elif kind == "error":
                self.outcome = f"error:{frame['error']['code']}"  # then a close, or not


class ConsultationSocketFollower(_SocketFollower):
    """Seed 000's ``/api/v1/consultations/{id}/ws``: ``message``, chunks, ``stream_complete``."""

    name = "consultation-ws"

    def __init__(self, server: Server, consultation_id: str, content: str) -> None:
        super().__init__(
            f"{server.ws_url}/api/v1/consultations/{consultation_id}/ws?token={server.token}",
            content,
        )
        self.conversation_id = consultation_id

    def converse(self, ws: ClientConnection) -> None:
        ws.send(json.dumps({"type": "message", "content": self.content}))
        error: str | None = None
        for frame in self.frames(ws):
            kind = frame["type"]
            if kind == "stream_chunk":
                self._text(frame["content"])
            elif kind == "error":
                error = frame["code"]
            elif kind == "stream_complete":
                self.outcome = f"error:{error}" if error else "end"
                return


class MessageStreamFollower(_SocketFollower):
    """Seed 004's ``/ws/chat/{session}``: chunks, then ``stream_end`` (with an error code in
    its metadata when the reply failed, after a chunk that tells the user)."""

    name = "message-stream-ws"

    def __init__(self, server: Server, session_id: str, content: str) -> None:
        super().__init__(f"{server.ws_url}/ws/chat/{session_id}?token={server.token}", content)

    def converse(self, ws: ClientConnection) -> None:
        ws.send(json.dumps({"type": "message", "content": self.content}))
        for frame in self.frames(ws):
            if frame.get("sender") != "ai":
                continue
            self.reply_id = frame["id"]
            if frame.get("stream_chunk"):
                self._text(frame["chunk"])
            elif frame.get("stream_end"):
                error = frame["metadata"].get("error")
                if error:
                    self.parts.pop()  # the notice of the error is not the reply's text
                    self.outcome = f"error:{error}"
                else:
                    self.outcome = "end"
                return


def stored_reply(server: Server, follower: Follower, deadline_s: float = 60) -> dict[str, Any]:
    """The reply a follower followed, as stored once it ended (polled until it has)."""
    give_up = time.monotonic() + deadline_s
    with server.client() as client:
        while True:
            if follower.reply_id is not None:
                reply = client.get(f"/api/v1/messages/{follower.reply_id}").json()
            else:  # a consultation's frames carry no id: its last reply
                cid = getattr(follower, "conversation_id", None)
                items = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
                reply = [m for m in items if m["role"] == "assistant"][-1]
            if reply["status"] != "streaming" or time.monotonic() > give_up:
                return dict(reply)
            time.sleep(0.2)


class OpenAIFollower(Follower):
    """``POST /v1/chat/completions`` with ``stream: true``: chunks until ``[DONE]``, an error
    object in the stream when the reply failed."""

    name = "openai-sse"

    def __init__(self, server: Server, content: str) -> None:
        super().__init__()
        self.server = server
        self.content = content

    def run(self) -> None:
        body = {
            "model": "scripted",
            "stream": True,
            "messages": [{"role": "user", "content": self.content}],
        }
        with (
            httpx.Client(base_url=self.server.url, headers=self.server.headers(), timeout=120) as c,
            c.stream("POST", "/v1/chat/completions", json=body) as response,
        ):
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                data = line.removeprefix("data: ")
                if data == "[DONE]":
                    if self.outcome is None:
                        self.problem = "[DONE] with no finish_reason or error"
                    return
                chunk = json.loads(data)
                if "error" in chunk:
                    self.outcome = f"error:{chunk['error']['code']}"
                    continue
                self.reply_id = chunk["id"].removeprefix("chatcmpl-")
                for choice in chunk["choices"]:
                    if choice["delta"].get("content"):
                        self._text(choice["delta"]["content"])
                    if choice.get("finish_reason"):
                        self.outcome = "end"
        if self.outcome is None:
            self.problem = "the stream ended with no [DONE]"
