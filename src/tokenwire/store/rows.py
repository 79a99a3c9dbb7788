"""The column values of a new message row, and the record they stand for."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from tokenwire.ids import UserId, uuid7
from tokenwire.store import convert
from tokenwire.store.base import attribute
from tokenwire.store.records import Message, MessageStatus


def message_values(
    cid: str,
    user_id: UserId,
    now: datetime,
    *,
    role: str,
    content: str = "",
    status: MessageStatus = MessageStatus.COMPLETE,
) -> dict[str, Any]:
    """The column values of a new message (column names: ``metadata``, not ``meta``)."""
    return {
        "id": uuid7(),
        "conversation_id": cid,
        "user_id": user_id,
        "role": role,
        "content": content,
        "status": status.value,
        "client_message_id": None,
        "reply_to": None,
        "parent_id": None,
        "model": None,
        "finish_reason": None,
        "usage": None,
        "timings": None,
        "error": None,
        "metadata": {},
        "images": [],
        "marks": [],
        "mark_log": "",
        "last_seq": 0,
        "created_at": now,
        "updated_at": now,
    }


def message_record(values: dict[str, Any]) -> Message:
    fields = {attribute(k): v for k, v in values.items()}
    return convert.message(SimpleNamespace(**fields))
