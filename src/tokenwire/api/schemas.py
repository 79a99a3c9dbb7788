"""Request bodies and the JSON form of records."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tokenwire.store.convert import isoformat
from tokenwire.store.records import Conversation, Message


class CreateConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    persona: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)


class UpdateConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    persona: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None


class SendMessage(BaseModel):
    """A user message. Any other field is an option of the turn in OpenAI's shape
    (``protocol/option_fields.py``: ``max_tokens``, ``stop``, ``temperature``, ``tools``,
    ``response_format`` ...), honoured or refused by name; ``tool_call_id`` makes the
    message the result of that tool call."""

    model_config = ConfigDict(extra="allow")

    content: str
    client_message_id: str | None = Field(default=None, min_length=1, max_length=200)
    images: list[str] = Field(default_factory=list)
    tool_call_id: str | None = Field(default=None, min_length=1, max_length=200)


def conversation_json(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.id,
        "title": c.title,
        "persona": c.persona,
        "model": c.model,
        "metadata": c.metadata,
        "kind": c.kind,
        "key": c.key,
        "created_at": isoformat(c.created_at),
        "updated_at": isoformat(c.updated_at),
    }


def message_json(m: Message) -> dict[str, Any]:
    """A message as clients see it. ``seq`` is the last event its ``content`` includes: resume
    a streaming reply with ``after=seq``."""
    content, seq = m.content, m.last_seq
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "role": m.role,
        "content": content,
        "status": m.status.value,
        "seq": seq,
        "client_message_id": m.client_message_id,
        "reply_to": m.reply_to,
        "model": m.model,
        "finish_reason": m.finish_reason,
        "usage": m.usage,
        "timings": m.timings,
        "error": m.error,
        "metadata": m.metadata,
        "images": list(m.images),
        "created_at": isoformat(m.created_at),
        "updated_at": isoformat(m.updated_at),
    }
