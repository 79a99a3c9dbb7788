"""Structured logs: one JSON object per line when stderr is not a terminal, readable text when
it is; one line per request (``tokenwire.http``) and one per reply (``tokenwire.reply``).

Fields ride on a record as ``extra={"fields": {...}}``. No message content and no tokens are
ever put there: neither the text of a message or a reply nor a bearer token (query strings,
where ``?token=`` lives, are not logged at all).
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec

from tokenwire.engine.hooks import Hooks, ReplyEnd, ReplyInfo
from tokenwire.ids import MessageId
from tokenwire.ops import context
from tokenwire.settings import Settings

__all__ = ["JSONFormatter", "Redact", "ReplyLog", "TextFormatter", "configure_logging"]

reply_log = logging.getLogger("tokenwire.reply")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
# ``?token=`` authenticates browser WebSockets and EventSources; uvicorn logs those paths.
_TOKEN_IN_URL = re.compile(r"([?&](?:access_)?token=)[^&\s\"']+")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


class JSONFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...fields, "exc"?}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return msgspec.json.encode(entry, enc_hook=str).decode()


class TextFormatter(logging.Formatter):
    """``HH:MM:SS level logger msg key=value ...`` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        pairs = " ".join(f"{k}={v}" for k, v in _fields(record).items() if v is not None)
        line = f"{when} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        if pairs:
            line += " " + pairs
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class Redact(logging.Filter):
    """Blanks the value of a ``token=`` query parameter in any message, whoever logs it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = _TOKEN_IN_URL.sub(r"\1[redacted]", message), ()
        return True


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Send every log record (uvicorn's included) to ``stream`` in the configured format."""
    stream = stream or sys.stderr
    json = settings.log_format == "json" or (settings.log_format == "auto" and not stream.isatty())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter() if json else TextFormatter())
    handler.addFilter(Redact())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(settings.log_level, logging.ERROR))
    # Alembic announces each of its plugins at info level on every start: not news.
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))
    logging.captureWarnings(True)  # warnings too, as lines of the same format


class ReplyLog(Hooks):
    """One ``reply`` line when a reply ends: who, where, which model, how it ended, how fast.

    The request id is that of the request (or socket) that sent the message.
    """

    def __init__(self) -> None:
        self._fallbacks: dict[MessageId, int] = {}

    def fallback(self, reply: ReplyInfo, from_provider: str, to_provider: str) -> None:
        self._fallbacks[reply.message_id] = self._fallbacks.get(reply.message_id, 0) + 1

    def reply_ended(self, reply: ReplyInfo, end: ReplyEnd) -> None:
        connection = context.current.get()
        fields = {
            "request_id": connection.request_id if connection is not None else None,
            "user_id": reply.user_id,
            "conversation_id": reply.conversation_id,
            "message_id": reply.message_id,
            "provider": reply.provider,
            "model": reply.model,
            "outcome": end.status,
            "error_code": end.error_code,
            "ttft_ms": None if end.ttft_seconds is None else round(end.ttft_seconds * 1000, 1),
            "duration_ms": round(end.seconds * 1000, 1),
            "completion_tokens": end.completion_tokens,
            "fallbacks": self._fallbacks.pop(reply.message_id, 0),
        }
        level = logging.WARNING if end.status in ("error", "interrupted") else logging.INFO
        reply_log.log(level, "reply", extra={"fields": fields})
