"""Seed 003's image chat SSE events, byte for byte, and its request."""

from __future__ import annotations

import pytest

from tests.protocol.dialects.events import CID, MID, UID, failed, stored
from tokenwire.errors import BadRequest, PayloadTooLarge, Unprocessable
from tokenwire.protocol.dialects.chat_image import (
    ChatImageEncoder,
    ChatImageRequest,
    encode_result,
    error_body,
    image_data_url,
    parse_request,
    refusal,
    refusal_event,
    result,
)
from tokenwire.protocol.events import (
    Event,
    MessageDelta,
    MessageEnd,
    MessageStart,
    Timings,
    Usage,
    UserMessageInfo,
)

# The 1x1 PNG of seed 003's curl examples.
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUl"
    "EQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_the_seed_expected_output_byte_for_byte() -> None:
    # Seed 003, "Expected Output" of the curl test.
    user = UserMessageInfo(UID, "What is in this image?", "2025-10-07T10:30:00")
    start = MessageStart(MID, 0, "c", UID, user, "gpt-4-vision-preview", "2025-10-07T10:30:00")
    deltas = ["This", " is", " a", " simple image..."]
    events: list[Event] = [start, *(MessageDelta(MID, i + 1, d) for i, d in enumerate(deltas))]
    events.append(MessageEnd(MID, 5, "stop", Usage(10, 50), Timings(300.0, 2500.2)))
    encoder = ChatImageEncoder()
    body = b"".join(encoder.encode(e) for e in events)
    assert body == (
        b'data: {"type":"start","timestamp":"2025-10-07T10:30:00",'
        b'"model":"gpt-4-vision-preview"}\n\n'
        b'data: {"type":"content","content":"This","delta":"This"}\n\n'
        b'data: {"type":"content","content":"This is","delta":" is"}\n\n'
        b'data: {"type":"content","content":"This is a","delta":" a"}\n\n'
        b'data: {"type":"content","content":"This is a simple image...",'
        b'"delta":" simple image..."}\n\n'
        b'data: {"type":"end","tokens":50,"finish_reason":"stop","processing_time_ms":2500,'
        b'"content":"This is a simple image..."}\n\n'
    )
    assert encoder.content == "This is a simple image..."


def test_a_failed_reply_ends_with_an_error_event() -> None:
    encoder = ChatImageEncoder()
    frames = [encoder.encode(e) for e in failed("x")]
    assert frames[-1] == b'data: {"type":"error","error":"the model is unavailable"}\n\n'
    assert error_body("too big") == b'{"type":"error","error":"too big"}'


def test_the_seed_request_parses() -> None:
    body = (
        b'{"base64_image": "%s", "prompt": "What is in this image?", "subject": "Mathematics",'
        b' "session_id": "session_abc123", "student_id": "student_xyz"}' % PIXEL.encode()
    )
    assert parse_request(body) == ChatImageRequest(
        prompt="What is in this image?",
        base64_image=PIXEL,
        subject="Mathematics",
        session_id="session_abc123",
        student_id="student_xyz",
    )


def test_images_become_data_urls_with_their_type() -> None:
    assert image_data_url(PIXEL) == f"data:image/png;base64,{PIXEL}"
    assert image_data_url("/9j/4AAQSkZJRg==").startswith("data:image/jpeg;base64,")
    assert image_data_url("data:image/gif;base64,R0lGODlh") == "data:image/gif;base64,R0lGODlh"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"nope", "invalid_request"),
        (b'{"base64_image": "x"}', "invalid_request"),
        (b'{"prompt": "  "}', "empty_content"),
    ],
)
def test_bad_requests(body: bytes, code: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_request(body)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"prompt": "p", "base64_image": "@@@@"}', "invalid_image"),
        (b'{"prompt": "p", "base64_image": "aGVsbG8="}', "unsupported_image_type"),
        (
            b'{"prompt": "p", "base64_image": "data:image/png;base64,aGVsbG8="}',
            "unsupported_image_type",
        ),
    ],
)
def test_bad_images_fail_as_every_image_does(body: bytes, code: str) -> None:
    """The image check of protocol/images.py, with its statuses: 422 for these faults."""
    with pytest.raises(Unprocessable) as info:
        parse_request(body)
    assert (info.value.status, info.value.code) == (422, code)
    assert info.value.message.startswith("base64_image: ")


def test_the_whole_reply_names_the_session_it_went_to() -> None:
    timings = Timings(ttft_ms=12.5, total_ms=2500.4, tokens_per_second=10.0)
    final = stored(usage=Usage(prompt_tokens=3, completion_tokens=7), timings=timings)[-1]
    assert encode_result(result(final, ChatImageRequest("Hi", session_id="s1"), "m")) == (
        b'{"content":"Hi there","model":"m","tokens":7,"finish_reason":"stop",'
        b'"processing_time_ms":2500,"session_id":"s1","message_id":"%s"}' % MID.encode()
    )
    # Without a session of its own, a request started a conversation: its id is the session.
    assert result(final, ChatImageRequest("Hi"), "m").session_id == CID


def test_a_refusal_is_the_error_event_and_its_object() -> None:
    refused = PayloadTooLarge("too big")
    assert refusal(refused) == b'{"type":"error","error":"too big"}'
    assert refusal_event(refused) == b'data: {"type":"error","error":"too big"}\n\n'
