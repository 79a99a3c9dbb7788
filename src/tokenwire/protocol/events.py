"""The canonical event model: what every wire dialect encodes.

Each assistant message streams as a sequence of events numbered by ``seq`` from 0:
``message.start`` (seq 0), any number of ``message.queued``, ``message.delta`` and
``message.tool_call``, then exactly one terminal event, ``message.end`` or
``message.error``. A reply that calls tools ends with ``finish_reason`` ``tool_calls``.

Events are msgspec Structs so that encoding one costs O(size of the event): the
per-token path never re-serialises the whole message. They are immutable leaves that can
never be part of a reference cycle, so they are kept out of the cyclic garbage collector
(``gc=False``): a server holding the events of thousands of live replies does not rescan
them at every collection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

FinishReason = Literal["stop", "length", "tool_calls", "cancelled"]


class UserMessageInfo(msgspec.Struct, frozen=True, gc=False):
    """The user message a reply answers, carried in ``message.start`` so that every tab
    watching a conversation can show it, not only the tab that sent it."""

    id: str
    content: str
    created_at: str
    client_message_id: str | None = None


class Usage(msgspec.Struct, frozen=True, gc=False):
    prompt_tokens: int
    completion_tokens: int


class Timings(msgspec.Struct, frozen=True, gc=False):
    ttft_ms: float | None
    total_ms: float
    tokens_per_second: float | None = None


class ErrorInfo(msgspec.Struct, frozen=True, gc=False):
    code: str
    message: str
    retryable: bool


class ContextInfo(msgspec.Struct, frozen=True, gc=False):
    """How much of the conversation the model sees: ``omitted_turns`` of the oldest turns
    did not fit its context window and were left out of the prompt."""

    omitted_turns: int


class MessageStart(
    msgspec.Struct,
    frozen=True,
    gc=False,
    omit_defaults=True,
    tag="message.start",
    tag_field="type",
):
    """``context`` is there only when the prompt left turns out (other dialects ignore it)."""

    message_id: str
    seq: int
    conversation_id: str
    reply_to: str
    user_message: UserMessageInfo
    model: str
    created_at: str
    context: ContextInfo | None = None


class MessageQueued(msgspec.Struct, frozen=True, gc=False, tag="message.queued", tag_field="type"):
    """The reply waits for the model: ``position`` replies are ahead of it (1 = next)."""

    message_id: str
    seq: int
    position: int


class TopLogprob(msgspec.Struct, frozen=True, gc=False):
    token: str
    logprob: float
    bytes: list[int]


class TokenLogprob(msgspec.Struct, frozen=True, gc=False):
    """A sampled token's log probability (OpenAI's ``logprobs.content[]`` entry)."""

    token: str
    logprob: float
    bytes: list[int]
    top_logprobs: list[TopLogprob]


class MessageDelta(msgspec.Struct, frozen=True, gc=False, tag="message.delta", tag_field="type"):
    message_id: str
    seq: int
    text: str
    # Only when the request asked for them (``logprobs``); absent from the JSON otherwise.
    logprobs: list[TokenLogprob] | msgspec.UnsetType = msgspec.UNSET


class MessageToolCall(
    msgspec.Struct, frozen=True, gc=False, tag="message.tool_call", tag_field="type"
):
    """A piece of a tool call the reply makes, as OpenAI streams it: ``index`` is the call's
    place in the reply; its first piece carries ``id`` and ``name``, every piece a fragment
    of the ``arguments`` JSON (joined, the pieces of one index give the whole call)."""

    message_id: str
    seq: int
    index: int
    id: str | None
    name: str | None
    arguments: str


class MessageEnd(msgspec.Struct, frozen=True, gc=False, tag="message.end", tag_field="type"):
    message_id: str
    seq: int
    finish_reason: FinishReason
    usage: Usage
    timings: Timings


class MessageError(msgspec.Struct, frozen=True, gc=False, tag="message.error", tag_field="type"):
    message_id: str
    seq: int
    error: ErrorInfo


Event = MessageStart | MessageQueued | MessageDelta | MessageToolCall | MessageEnd | MessageError
TerminalEvent = MessageEnd | MessageError

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


def encode(event: Event) -> bytes:
    """The canonical JSON of one event, the same bytes over SSE and WebSocket."""
    return _encoder.encode(event)


def decode(data: bytes | str) -> Event:
    """Parse canonical JSON back into an event (clients, and logs kept outside the process)."""
    event: Event = _decoder.decode(data)
    return event


def event_type(event: Event) -> str:
    """The ``type`` tag of an event (``message.delta`` ...), as written on the wire."""
    return _TYPE_NAMES[type(event)]


_TYPE_NAMES: dict[type, str] = {
    MessageStart: "message.start",
    MessageQueued: "message.queued",
    MessageDelta: "message.delta",
    MessageToolCall: "message.tool_call",
    MessageEnd: "message.end",
    MessageError: "message.error",
}


def is_terminal(event: Event) -> bool:
    return isinstance(event, MessageEnd | MessageError)


def merge_deltas(deltas: Sequence[MessageDelta]) -> MessageDelta:
    """One delta standing for several consecutive ones, for a subscriber that fell behind.

    It carries the seq of the last delta it covers, so a client that resumes after that seq
    neither misses nor repeats text: seq semantics hold across the merge.
    """
    if len(deltas) == 1:
        return deltas[0]
    last = deltas[-1]
    logprobs = [p for d in deltas if d.logprobs is not msgspec.UNSET for p in d.logprobs]
    return MessageDelta(
        message_id=last.message_id,
        seq=last.seq,
        text="".join(d.text for d in deltas),
        logprobs=logprobs if logprobs else msgspec.UNSET,
    )


def coalesce(events: Sequence[Event]) -> list[Event]:
    """Merge every run of consecutive deltas in ``events`` into one delta."""
    out: list[Event] = []
    run: list[MessageDelta] = []
    for event in events:
        if isinstance(event, MessageDelta):
            run.append(event)
            continue
        if run:
            out.append(merge_deltas(run))
            run = []
        out.append(event)
    if run:
        out.append(merge_deltas(run))
    return out
