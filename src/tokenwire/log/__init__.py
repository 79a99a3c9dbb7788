"""The event log: every reply's events, readable from any seq while they are kept."""

from tokenwire.log.base import EventLog, LogMiss
from tokenwire.log.memory import MemoryEventLog

__all__ = ["EventLog", "LogMiss", "MemoryEventLog"]
