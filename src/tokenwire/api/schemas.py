"""Request bodies of ``/api/v1`` (the answers are ``protocol/resources``, built in
``api/resources.py``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
    # Switch branch: the branch through this message (on to its newest message) is shown
    # and continued.
    current_leaf_id: str | None = Field(default=None, max_length=64)


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
    # The reply the message follows: absent continues the current leaf; another reply
    # makes a new branch (an edit resent); null makes a new first message.
    parent_id: str | None = Field(default=None, max_length=64)
