"""How a run's end is written: the row first, then the terminal event, and never a terminal
event that says something other than the row.

- The database is down: the row is written again and again (the run still holds its lease
  meanwhile, so no other instance ends the reply) until it is, and only then do clients
  hear the end. A run told to stop meanwhile (shutdown) gives up and ends its clients
  ``interrupted``, which is what recovery will store (the row is still ``streaming``).
- The row was ended elsewhere (a misconfigured second server on the same database, or an
  instance that took the reply over while this one stalled): clients get the end the row
  has, not the one this run would have written.
- The row is gone (its conversation was deleted): clients are told so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import msgspec

from tokenwire.engine import replay
from tokenwire.errors import Unavailable
from tokenwire.ids import MessageId
from tokenwire.protocol.events import ErrorInfo, Event, MessageError
from tokenwire.store.records import Message, MessageStatus, Outcome
from tokenwire.store.store import SQLStore

log = logging.getLogger("tokenwire.run")

RETRY_DELAYS_S = (0.25, 0.5, 1.0, 2.0, 4.0)  # then every 5 s


@dataclass(frozen=True, slots=True)
class Ending:
    """What clients are told (``terminal``) and the status that goes with it."""

    terminal: Event
    status: str
    error_code: str | None


async def save(
    store: SQLStore, message_id: MessageId, outcome: Outcome, *, stopping: asyncio.Event
) -> tuple[bool, Message | None] | None:
    """Write ``outcome``; ``(True, None)`` when it is what the row now holds, ``(False, row)``
    when the reply had already ended (``row`` as it ended, ``None`` if it is gone), ``None``
    when it could not be written (a fault of the server, or ``stopping`` set during an
    outage of the database)."""
    attempt = 0
    while True:
        try:
            if await store.end_reply(message_id, outcome):
                return True, None
            return False, await store.find_message(message_id)
        except Unavailable as exc:
            if attempt == 0:
                log.warning("cannot save the end of reply %s yet: %s; retrying", message_id, exc)
        except Exception:
            log.exception("could not save the end of reply %s", message_id)
            return None
        if stopping.is_set():
            log.warning("gave up saving the end of reply %s: the server is stopping", message_id)
            return None
        delay = RETRY_DELAYS_S[attempt] if attempt < len(RETRY_DELAYS_S) else 5.0
        attempt += 1
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await stopping.wait()


def ending(
    own: Event,
    status: MessageStatus,
    error_code: str | None,
    saved: tuple[bool, Message | None] | None,
) -> Ending:
    """The terminal event for clients, given what ``save`` found. ``own``: the run's own
    terminal event, whose seq (the log's next) every answer keeps."""
    if saved is not None and saved[0]:
        return Ending(own, status.value, error_code)
    row = saved[1] if saved is not None else None
    if row is not None and row.status.is_final:
        stored = msgspec.structs.replace(replay.terminal_event(row), seq=own.seq)
        code = stored.error.code if isinstance(stored, MessageError) else None
        log.warning(
            "reply %s had already ended %s elsewhere; its clients are told so",
            own.message_id,
            row.status.value,
        )
        return Ending(stored, row.status.value, code)
    if saved is not None:  # the row is gone with its conversation
        info = ErrorInfo("not_found", "the reply was deleted while it streamed", False)
        return Ending(MessageError(own.message_id, own.seq, info), "deleted", info.code)
    info = ErrorInfo("interrupted", "the end of the reply could not be saved", True)
    return Ending(MessageError(own.message_id, own.seq, info), "interrupted", info.code)
