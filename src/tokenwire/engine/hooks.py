"""Where operators look in: the engine calls these at the moments worth counting.

The defaults do nothing. Metrics and reply logs subclass ``Hooks``; the engine never knows
what listens. Hooks run inline on the event loop, so they must be quick and must not raise.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenwire.ids import ConversationId, MessageId, UserId


@dataclass(frozen=True, slots=True)
class ReplyInfo:
    """Who and what a reply is, for labels and log lines (never its text)."""

    message_id: MessageId
    conversation_id: ConversationId
    user_id: UserId
    provider: str
    model: str


@dataclass(frozen=True, slots=True)
class ReplyEnd:
    """How a reply ended, for counters and log lines."""

    status: str  # complete, cancelled, error, interrupted; handed_over when another runs it
    error_code: str | None
    completion_tokens: int
    ttft_seconds: float | None
    seconds: float


class Hooks:
    def reply_started(self, reply: ReplyInfo) -> None:
        """A reply was accepted and its run started."""

    def first_token(self, reply: ReplyInfo, seconds: float) -> None:
        """The first text arrived, ``seconds`` after the send was accepted."""

    def token(self, reply: ReplyInfo, gap_seconds: float) -> None:
        """Another delta arrived, ``gap_seconds`` after the previous one."""

    def fallback(self, reply: ReplyInfo, from_provider: str, to_provider: str) -> None:
        """The reply moved to the next provider of the chain."""

    def reply_ended(self, reply: ReplyInfo, end: ReplyEnd) -> None:
        """The reply ended (``end.status``: complete, cancelled, error or interrupted)."""

    def follow_started(self, message_id: MessageId, after: int) -> None:
        """A client started following a reply; ``after >= 0`` means it resumed."""


class HookChain(Hooks):
    """Several hooks called in order."""

    def __init__(self, *hooks: Hooks) -> None:
        self.hooks = list(hooks)

    def reply_started(self, reply: ReplyInfo) -> None:
        for h in self.hooks:
            h.reply_started(reply)

    def first_token(self, reply: ReplyInfo, seconds: float) -> None:
        for h in self.hooks:
            h.first_token(reply, seconds)

    def token(self, reply: ReplyInfo, gap_seconds: float) -> None:
        for h in self.hooks:
            h.token(reply, gap_seconds)

    def fallback(self, reply: ReplyInfo, from_provider: str, to_provider: str) -> None:
        for h in self.hooks:
            h.fallback(reply, from_provider, to_provider)

    def reply_ended(self, reply: ReplyInfo, end: ReplyEnd) -> None:
        for h in self.hooks:
            h.reply_ended(reply, end)

    def follow_started(self, message_id: MessageId, after: int) -> None:
        for h in self.hooks:
            h.follow_started(message_id, after)
