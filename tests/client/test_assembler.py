"""The reply assembler's rules, on literal events: resets, repeats, merges, snapshots."""

from __future__ import annotations

from tokenwire.client.assembler import ReplyAssembler
from tokenwire.client.models import Message, ReplyStatus
from tokenwire.protocol.events import (
    ErrorInfo,
    MessageDelta,
    MessageEnd,
    MessageError,
    MessageQueued,
    MessageStart,
    Timings,
    Usage,
    UserMessageInfo,
    decode,
)

MID = "m1"
START = MessageStart(
    message_id=MID,
    seq=0,
    conversation_id="c1",
    reply_to="u1",
    user_message=UserMessageInfo("u1", "hi", "2025-01-01T00:00:00Z", "cm-1"),
    model="scripted",
    created_at="2025-01-01T00:00:00Z",
)


def delta(seq: int, text: str) -> MessageDelta:
    return MessageDelta(MID, seq, text)


def end(seq: int, reason: str = "stop") -> MessageEnd:
    return MessageEnd(MID, seq, reason, Usage(1, 2), Timings(1.0, 2.0))  # type: ignore[arg-type]


def test_events_build_the_text_in_order() -> None:
    asm = ReplyAssembler(conversation_id="c1")
    for event in (START, delta(1, "Hel"), delta(2, "lo"), end(3)):
        assert asm.apply(event)
    assert (asm.message_id, asm.text, asm.seq) == (MID, "Hello", 3)
    assert asm.status is ReplyStatus.COMPLETE
    assert asm.user_message_id == "u1"


def test_repeats_and_older_events_change_nothing() -> None:
    asm = ReplyAssembler()
    asm.apply(START)
    asm.apply(delta(1, "a"))
    asm.apply(delta(2, "b"))
    version = asm.version
    assert not asm.apply(delta(2, "b"))
    assert not asm.apply(delta(1, "a"))
    assert asm.text == "ab"
    assert asm.version == version


def test_a_merged_delta_carries_the_last_seq_it_covers() -> None:
    asm = ReplyAssembler()
    asm.apply(START)
    asm.apply(delta(1, "a"))
    asm.apply(delta(4, "bcd"))  # 2..4, merged by a server that fell behind
    assert not asm.apply(delta(3, "c"))
    asm.apply(delta(5, "e"))
    assert (asm.text, asm.seq) == ("abcde", 5)


def test_message_start_resets_the_text() -> None:
    asm = ReplyAssembler()
    asm.apply(START)
    asm.apply(delta(1, "ab"))
    asm.apply(START)  # the reply replayed from its beginning
    assert (asm.text, asm.seq) == ("", 0)
    asm.apply(delta(1, "ab"))
    assert asm.text == "ab"


def test_events_of_another_reply_are_ignored() -> None:
    asm = ReplyAssembler()
    asm.apply(START)
    assert not asm.apply(MessageDelta("m2", 1, "x"))
    other = decode(
        b'{"type":"message.start","message_id":"m2","seq":0,"conversation_id":"c1",'
        b'"reply_to":"u2","user_message":{"id":"u2","content":"x","created_at":""},'
        b'"model":"s","created_at":""}'
    )
    assert not asm.apply(other)
    assert asm.message_id == MID


def test_queued_then_cancelled_and_errors() -> None:
    asm = ReplyAssembler()
    asm.apply(START)
    asm.apply(MessageQueued(MID, 1, 2))
    assert asm.queue_position == 2
    asm.apply(delta(2, "x"))
    assert asm.queue_position is None
    asm.apply(end(3, "cancelled"))
    assert asm.status is ReplyStatus.CANCELLED
    assert not asm.apply(delta(4, "late"))

    failed = ReplyAssembler()
    failed.apply(START)
    failed.apply(MessageError(MID, 1, ErrorInfo("interrupted", "shut down", True)))
    assert failed.status is ReplyStatus.INTERRUPTED
    assert failed.error is not None
    assert failed.error.retryable


def message(seq: int, content: str, status: ReplyStatus = ReplyStatus.STREAMING) -> Message:
    return Message(MID, "c1", "assistant", content, status, seq=seq, reply_to="u1")


def test_snapshots_replace_the_text_when_further_along() -> None:
    asm = ReplyAssembler(message_id=MID)
    assert asm.apply_message(message(2, "ab"))
    assert not asm.apply_message(message(2, "ab"))
    assert not asm.apply_message(message(1, "a"))
    asm.apply(delta(3, "c"))  # events and snapshots mix: the seq orders them
    assert asm.apply_message(message(5, "abcde"))
    assert asm.apply_message(message(6, "abcde", ReplyStatus.COMPLETE))
    assert (asm.text, asm.status, asm.conversation_id) == ("abcde", ReplyStatus.COMPLETE, "c1")


def test_resuming_from_a_stored_message_starts_after_its_text() -> None:
    asm = ReplyAssembler(message_id=MID, conversation_id="c1", text="ab", seq=2)
    assert not asm.apply(delta(2, "b"))
    asm.apply(delta(3, "c"))
    assert asm.text == "abc"
