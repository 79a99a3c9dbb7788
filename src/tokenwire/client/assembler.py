"""Building one reply from whatever arrives: pure, no I/O.

Events come from any transport, in any mix, possibly repeated after a reconnect. The rules
are the server's (docs/ARCHITECTURE.md, "WebSocket"): ``message.start`` resets the text; an
event whose seq is not above the last one applied is dropped (a merged delta carries the
last seq it covers, so this holds across merges). A stored snapshot of the message
(polling) replaces the text when it is further along, since a message's ``content`` is
exactly the text up to its ``seq``.

The assembler keeps the text as the wire rules build it, which may shrink on a reset;
``ReplyStream`` hands the caller only what goes beyond what it has already handed out.
"""

from __future__ import annotations

from tokenwire.client.models import Message, ReplyError, ReplyStatus
from tokenwire.protocol.events import (
    Event,
    MessageDelta,
    MessageEnd,
    MessageError,
    MessageQueued,
    MessageStart,
)


class ReplyAssembler:
    """The state of one reply. ``version`` goes up on every change that matters to a reader.

    ``text`` and ``seq`` start from what the caller already has (a stored message's
    ``content`` and ``seq``), or empty at -1 to take the reply from its beginning.
    """

    def __init__(
        self,
        *,
        message_id: str | None = None,
        conversation_id: str = "",
        text: str = "",
        seq: int = -1,
    ) -> None:
        self.message_id = message_id
        self.conversation_id = conversation_id
        self.text = text
        self.seq = seq
        self.status = ReplyStatus.STREAMING
        self.finish_reason: str | None = None
        self.error: ReplyError | None = None
        self.queue_position: int | None = None
        self.user_message_id: str | None = None
        self.version = 0

    @classmethod
    def from_message(cls, message: Message) -> ReplyAssembler:
        """Continue from a stored reply: its ``content`` is the text up to its ``seq``."""
        assembler = cls(
            message_id=message.id,
            conversation_id=message.conversation_id,
            text=message.content,
            seq=message.seq,
        )
        assembler.user_message_id = message.reply_to
        if message.status is not ReplyStatus.STREAMING:
            assembler.apply_message(message)
        return assembler

    @classmethod
    def restarted(cls, message: Message) -> ReplyAssembler:
        """A reply that goes on after its end (continue), taken again from its start: every
        stream of it then begins with ``message.start``, and none can be met halfway (a
        cursor at the stored ``seq`` can fall inside a delta that merges the old text with
        the new). Its stored text is what the caller has until the stream passes it."""
        assembler = cls(
            message_id=message.id, conversation_id=message.conversation_id, text=message.content
        )
        assembler.user_message_id = message.reply_to
        return assembler

    @property
    def done(self) -> bool:
        return self.status is not ReplyStatus.STREAMING

    def apply(self, event: Event) -> bool:
        """Apply one canonical event; False when it changed nothing (a repeat, or not ours)."""
        if self.done:
            return False
        if isinstance(event, MessageStart):
            if self.message_id is not None and event.message_id != self.message_id:
                return False
            self.message_id = event.message_id
            self.conversation_id = event.conversation_id
            self.user_message_id = event.user_message.id
            self.text, self.seq = "", event.seq
        elif event.message_id != self.message_id or event.seq <= self.seq:
            return False
        elif isinstance(event, MessageDelta):
            self.text += event.text
            self.queue_position = None
        elif isinstance(event, MessageQueued):
            self.queue_position = event.position
        elif isinstance(event, MessageEnd):
            self.status = (
                ReplyStatus.CANCELLED
                if event.finish_reason == "cancelled"
                else ReplyStatus.COMPLETE
            )
            self.finish_reason = event.finish_reason
        elif isinstance(event, MessageError):
            info = event.error
            self.status = (
                ReplyStatus.INTERRUPTED if info.code == "interrupted" else ReplyStatus.ERROR
            )
            self.error = ReplyError(info.code, info.message, info.retryable)
        self.seq = event.seq
        self.version += 1
        return True

    def apply_message(self, message: Message) -> bool:
        """Apply a stored snapshot of the reply (from polling)."""
        if self.done or message.id != (self.message_id or message.id):
            return False
        final = message.status is not ReplyStatus.STREAMING
        if message.seq <= self.seq and not final:
            return False
        self.message_id = message.id
        self.conversation_id = message.conversation_id
        self.user_message_id = message.reply_to
        # A final row holds the whole text; a streaming one is exact up to its seq.
        self.text = message.content
        self.seq = max(self.seq, message.seq)
        if final:
            self.status = message.status
            self.finish_reason = message.finish_reason
            self.error = message.error
        self.version += 1
        return True
