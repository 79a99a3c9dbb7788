"""The consultation WebSocket frames of seeds 000/001, byte for byte."""

from __future__ import annotations

import msgspec
import pytest

from tests.protocol.dialects.events import CID, UID, failed, reply, ticking
from tokenwire.protocol.dialects.consultation import (
    Cancel,
    ConsultationEncoder,
    MessageDTO,
    Ping,
    SendMessage,
    decode_client_frame,
)
from tokenwire.protocol.dialects.timestamps import fixed
from tokenwire.protocol.frames import FrameError


class WebSocketMessageWrapper(msgspec.Struct):
    """Seed 000's Swift DTO: a key it knows must have its type; unknown keys are ignored."""

    type: str
    message: dict[str, object] | None = None
    consultation_id: str | None = None
    content: str | None = None
    timestamp: str | None = None
    error: str | None = None


def test_the_seed_unit_test_exchange_byte_for_byte() -> None:
    # Seed 000, "Unit Test Example": two chunks and a completion for consultation test-id.
    encoder = ConsultationEncoder(
        "test-id",
        clock=ticking(
            "2025-01-29T09:59:59Z",
            "2025-01-29T10:00:00Z",
            "2025-01-29T10:00:01Z",
            "2025-01-29T10:00:02Z",
        ),
    )
    frames = [f for event in reply("Hello ", "world!") for f in encoder.encode(event)]
    assert frames == [
        b'{"type":"message_received","consultation_id":"test-id","timestamp":"2025-01-29T09:59:59Z"}',
        # The seed's chunk1, chunk2 and complete, verbatim:
        b'{"type":"stream_chunk","content":"Hello ","consultation_id":"test-id",'
        b'"timestamp":"2025-01-29T10:00:00Z"}',
        b'{"type":"stream_chunk","content":"world!","consultation_id":"test-id",'
        b'"timestamp":"2025-01-29T10:00:01Z"}',
        b'{"type":"stream_complete","consultation_id":"test-id","timestamp":"2025-01-29T10:00:02Z"}',
    ]


def test_connected_and_pong() -> None:
    encoder = ConsultationEncoder(CID, clock=fixed("2025-01-29T10:00:00Z"))
    assert encoder.connected() == (
        b'{"type":"connected","consultation_id":"%s","timestamp":"2025-01-29T10:00:00Z"}'
        % CID.encode()
    )
    assert encoder.pong() == b'{"type":"pong","timestamp":"2025-01-29T10:00:00Z"}'


def test_a_reply_started_elsewhere_shows_its_user_message_first() -> None:
    encoder = ConsultationEncoder(CID, clock=fixed("T"))
    first = encoder.encode(reply("Hi")[0], own=False)
    assert first == [
        b'{"type":"message","message":{"id":"%s","consultation_id":"%s","role":"user",'
        b'"content":"Hello","created_at":"%s","status":"complete"},'
        b'"consultation_id":"%s","timestamp":"T"}'
        # Whole seconds: the app decodes dates with ``.iso8601`` (no fractional seconds).
        % (UID.encode(), CID.encode(), b"2025-01-29T10:00:00Z", CID.encode())
    ]


def test_an_error_is_followed_by_stream_complete_so_the_client_resets() -> None:
    encoder = ConsultationEncoder(CID, clock=fixed("T"))
    frames = [f for event in failed("par") for f in encoder.encode(event)]
    assert frames[-2:] == [
        b'{"type":"error","error":"the model is unavailable","code":"provider_error",'
        b'"consultation_id":"%s","timestamp":"T"}' % CID.encode(),
        b'{"type":"stream_complete","consultation_id":"%s","timestamp":"T"}' % CID.encode(),
    ]


def test_queued_events_send_nothing() -> None:
    encoder = ConsultationEncoder(CID, clock=fixed("T"))
    events = reply("a", queued=True)
    assert encoder.encode(events[1]) == []


def test_every_frame_decodes_with_the_seed_wrapper_and_accumulates() -> None:
    # Replays the seed client's "Streaming Logic" over what the encoder sends.
    encoder = ConsultationEncoder(CID)
    frames = [encoder.connected(), encoder.pong(), encoder.error("bad", "invalid_frame")]
    frames += [
        f for event in reply("I ", "understand ", "how you feel...") for f in encoder.encode(event)
    ]
    frames += encoder.encode(reply("x")[0], own=False)
    content = ""
    completed = False
    for frame in frames:
        wrapper = msgspec.json.decode(frame, type=WebSocketMessageWrapper)
        if wrapper.type == "stream_chunk":
            assert wrapper.content is not None
            content += wrapper.content
            assert wrapper.consultation_id == CID
        elif wrapper.type == "stream_complete":
            completed = True
    assert completed
    assert content == "I understand how you feel..."


def test_message_frame_for_a_history_dto() -> None:
    encoder = ConsultationEncoder("c", clock=fixed("T"))
    dto = MessageDTO("m", "c", "assistant", "hi", "2025-01-29T10:00:00.000Z")
    assert encoder.message(dto) == (
        b'{"type":"message","message":{"id":"m","consultation_id":"c","role":"assistant",'
        b'"content":"hi","created_at":"2025-01-29T10:00:00.000Z","status":"complete"},'
        b'"consultation_id":"c","timestamp":"T"}'
    )


def test_client_frames_of_seed_001() -> None:
    assert decode_client_frame(b'{"type":"message","content":"I need help with motivation"}') == (
        SendMessage("I need help with motivation")
    )
    assert decode_client_frame('{"type":"ping"}') == Ping()
    assert decode_client_frame('{"type":"cancel"}') == Cancel()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"not json", "invalid_json"),
        (b"[1]", "invalid_frame"),
        (b'{"content":"x"}', "invalid_frame"),
        (b'{"type":"shout"}', "unknown_type"),
        (b'{"type":"message"}', "invalid_frame"),
        (b'{"type":"message","content":5}', "invalid_frame"),
    ],
)
def test_malformed_client_frames_say_what_is_wrong(frame: bytes, code: str) -> None:
    with pytest.raises(FrameError) as info:
        decode_client_frame(frame)
    assert info.value.code == code
