"""Seed 003's iOS client, ``StreamingChatService``, ported from the seed's Swift.

Its ``dataTask`` collects the whole body, splits it into lines and decodes each
``data: `` line as ``SSEEvent`` with ``try?`` (a line that does not decode is dropped). It
never looks at the HTTP status: a refusal without a ``data:`` line leaves ``isStreaming``
true for ever, the spinner the issue describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from tests.seeds.swift import DecodingError, decode


class SSEEvent(msgspec.Struct):
    type: str
    content: str | None = None
    delta: str | None = None
    tokens: int | None = None
    error: str | None = None
    timestamp: str | None = None
    model: str | None = None
    finish_reason: str | None = None
    processing_time_ms: int | None = None


@dataclass
class StreamingChatService:
    streaming_text: str = ""
    is_streaming: bool = False
    stream_error: str | None = None
    events: int = 0

    def stream_chat_image(
        self, client: httpx.Client, path: str, body: dict[str, Any] | bytes
    ) -> None:
        self.is_streaming = True
        self.streaming_text = ""
        self.stream_error = None
        if isinstance(body, bytes):
            response = client.post(path, content=body)
        else:
            response = client.post(path, json=body)
        for line in response.text.split("\n"):
            if line.startswith("data: "):
                try:
                    event = decode(line[6:], SSEEvent)
                except DecodingError:
                    continue
                self.handle(event)

    def handle(self, event: SSEEvent) -> None:
        self.events += 1
        if event.type == "content":
            self.streaming_text = event.content or ""
        elif event.type == "end":
            self.is_streaming = False
        elif event.type == "error":
            self.stream_error = event.error
            self.is_streaming = False
