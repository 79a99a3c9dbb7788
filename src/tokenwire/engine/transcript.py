"""A conversation's stored messages as the turns a provider is asked to continue.

Tool calls are stored as their own kinds of message: an assistant reply keeps the calls it
made in ``metadata.tool_calls``, and a tool's result is a message of role ``tool`` (in the
place of a user message) naming its call in ``metadata.tool_call_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokenwire.protocol.options import CallInfo
from tokenwire.providers.base import ChatTurn, ToolCall
from tokenwire.store.records import Said

__all__ = ["call_infos", "chat_turns", "stored_calls"]


def stored_calls(metadata: dict[str, Any]) -> tuple[ToolCall, ...]:
    return tuple(
        ToolCall(str(c.get("id", "")), str(c.get("name", "")), str(c.get("arguments", "")))
        for c in metadata.get("tool_calls") or ()
    )


def call_infos(metadata: dict[str, Any]) -> tuple[CallInfo, ...]:
    """The calls a reply made, as a client resends them in its history."""
    return tuple(CallInfo(c.id, c.name, c.arguments) for c in stored_calls(metadata))


def chat_turns(messages: Sequence[Said]) -> list[ChatTurn]:
    turns: list[ChatTurn] = []
    for message in messages:
        if message.role == "user":
            turns.append(ChatTurn("user", message.content, message.images))
        elif message.role == "tool":
            call_id = str(message.metadata.get("tool_call_id", ""))
            turns.append(ChatTurn("tool", message.content, tool_call_id=call_id))
        elif message.role == "assistant":
            calls = stored_calls(message.metadata)
            if message.content or calls:
                turns.append(ChatTurn("assistant", message.content, tool_calls=calls))
    return turns
