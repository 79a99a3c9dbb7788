"""Persistence: users, conversations and messages (SQLite by default, PostgreSQL to scale)."""

from tokenwire.store.records import Conversation, Message, MessageStatus, Page, Turn, User
from tokenwire.store.store import Checkpoint, Outcome, SQLStore

__all__ = [
    "Checkpoint",
    "Conversation",
    "Message",
    "MessageStatus",
    "Outcome",
    "Page",
    "SQLStore",
    "Turn",
    "User",
]
