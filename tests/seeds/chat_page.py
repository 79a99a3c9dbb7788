"""Seed 002's React page, ported from the seed's TypeScript: ``chatAPI.sendMessageStream``
(fetch, then the body's reader with a buffer for incomplete lines, ``data: `` lines parsed
as JSON) and ``ChatPage``'s handlers (``token`` appends, ``end`` refreshes the list,
``error`` is shown; each listed message renders ``new Date(message.timestamp)``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

# ECMAScript's Date Time String Format, what ``new Date(text)`` parses for certain:
# YYYY-MM-DDTHH:mm(:ss(.sss)?)?(Z|±HH:mm)
_ECMA_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})")


def js_date(value: object) -> datetime | None:
    """``new Date(value)``; None where it renders "Invalid Date"."""
    if not isinstance(value, str) or not _ECMA_DATE.fullmatch(value):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class ChatPage:
    client: httpx.Client
    session_id: str
    streaming: str = ""
    message_id: str | None = None
    error: str | None = None
    ended: bool = False
    rendered: list[tuple[str, str, datetime | None]] = field(default_factory=list)
    status: int = 0

    def send(self, content: str, *, stop_after_tokens: int | None = None) -> None:
        """``sendMessageStream(sessionId, {content, role: "user"}, onChunk)``; with
        ``stop_after_tokens`` the page goes away after that many tokens (a reload)."""
        tokens = 0
        buffer = ""
        with self.client.stream(
            "POST",
            f"/sessions/{self.session_id}/messages/stream",
            json={"content": content, "role": "user"},
        ) as response:
            self.status = response.status_code
            for piece in response.iter_text():
                buffer += piece
                lines = buffer.split("\n")
                buffer = lines.pop()
                for line in lines:
                    if not line.startswith("data: "):
                        continue
                    try:
                        chunk = json.loads(line[6:])
                    except ValueError:
                        continue  # "Parsing errors are logged but don't break the stream"
                    self.on_chunk(chunk)
                    tokens += chunk.get("type") == "token"
                    if stop_after_tokens is not None and tokens >= stop_after_tokens:
                        return

    def on_chunk(self, chunk: dict[str, Any]) -> None:
        kind = chunk.get("type")
        if kind == "start":
            self.message_id = chunk.get("messageId")
            self.streaming = ""
        elif kind == "token":
            self.streaming += chunk.get("content", "")
        elif kind == "end":
            self.ended = True
            self.refresh()
        elif kind == "error":
            self.error = chunk.get("error")

    def refresh(self) -> None:
        """ "Automatic message refresh after streaming completion"."""
        response = self.client.get(f"/sessions/{self.session_id}/messages")
        assert response.status_code == 200, response.text
        self.rendered = [
            (m["role"], m["content"], js_date(m.get("timestamp"))) for m in response.json()
        ]
