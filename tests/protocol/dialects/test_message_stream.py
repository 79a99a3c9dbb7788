"""The three-phase ``message_stream`` frames of seed 004, byte for byte."""

from __future__ import annotations

import msgspec
import pytest

from tests.protocol.dialects.events import CREATED, MID, UID, failed, reply, stored
from tokenwire.protocol.dialects.message_stream import (
    Agent,
    MessageStreamEncoder,
    Ping,
    SendMessage,
    Stop,
    agent,
    decode_client_frame,
    history,
    session,
)
from tokenwire.protocol.dialects.timestamps import fixed
from tokenwire.protocol.frames import FrameError

AGENT = Agent(id="tokenwire", name="Assistant", type="chat")
T = "2025-01-29T10:00:00.000Z"


def frames_of(events: list, session: str = "s1") -> list[bytes]:  # type: ignore[type-arg]
    encoder = MessageStreamEncoder(session, AGENT, clock=fixed(T))
    return [f for event in events for f in encoder.encode(event)]


def stream_frame(phase: str, *, chunk: str | None = None, metadata: str | None = None) -> bytes:
    flags = {
        "start": b'"stream_start":true,"stream_chunk":false,"stream_end":false',
        "chunk": b'"stream_start":false,"stream_chunk":true,"stream_end":false',
        "end": b'"stream_start":false,"stream_chunk":false,"stream_end":true',
    }[phase]
    streaming = b"false" if phase == "end" else b"true"
    meta = (
        metadata.encode()
        if metadata
        else b'{"reply_to":"%s","streaming":%s}' % (UID.encode(), streaming)
    )
    chunk_part = b'"chunk":%s,' % msgspec.json.encode(chunk) if chunk is not None else b""
    return (
        b'{"type":"message_stream","id":"%s",%s"sender":"ai","timestamp":"%s",'
        b'"agentId":"tokenwire","agentName":"Assistant","agentType":"chat","session_id":"s1",'
        b'%s,"metadata":%s}' % (MID.encode(), chunk_part, T.encode(), flags, meta)
    )


def test_three_phases_share_one_id_and_follow_the_seed_structure() -> None:
    frames = frames_of(reply("Hello", " world"))
    echo = (
        b'{"type":"message","id":"%s","content":"Hello","sender":"user","timestamp":"%s",'
        b'"session_id":"s1"}' % (UID.encode(), CREATED.encode())
    )
    assert frames == [
        echo,
        stream_frame("start"),
        stream_frame("chunk", chunk="Hello"),
        stream_frame("chunk", chunk=" world"),
        stream_frame("end"),
    ]


def test_the_seed_client_rebuilds_the_message() -> None:
    # Seed 004, "Streaming Message Handler", replayed over the frames.
    message: dict[str, object] | None = None
    shown: list[dict[str, object]] = []
    for frame in frames_of(reply("Hel", "lo ", "there")):
        data = msgspec.json.decode(frame)
        if data["type"] == "message":
            assert data["sender"] == "user"  # the hook ignores user echoes
            continue
        assert data["type"] == "message_stream"
        assert data["sender"] == "ai"
        if data["stream_start"]:
            message = {"id": data["id"], "content": "", "streaming": True}
        elif data["stream_chunk"] and message is not None:
            message["content"] = str(message["content"]) + data["chunk"]
        elif data["stream_end"] and message is not None:
            message["streaming"] = data["metadata"]["streaming"]
            shown.append(message)
            message = None
    assert shown == [{"id": MID, "content": "Hello there", "streaming": False}]


def test_errors_are_sent_inside_the_stream() -> None:
    frames = frames_of(failed("partial"))
    assert frames[-2:] == [
        stream_frame("chunk", chunk="\n\nExecution error: the model is unavailable"),
        stream_frame(
            "end", metadata=f'{{"reply_to":"{UID}","streaming":false,"error":"provider_error"}}'
        ),
    ]


def test_an_error_before_any_text_has_no_leading_gap() -> None:
    frames = frames_of(failed())
    assert frames[2] == stream_frame("chunk", chunk="Execution error: the model is unavailable")


def test_a_cancelled_reply_ends_like_a_finished_one() -> None:
    assert frames_of(reply("a", finish="cancelled"))[-1] == stream_frame("end")


def test_a_system_notice_is_a_complete_message() -> None:
    encoder = MessageStreamEncoder("s1", AGENT, clock=fixed(T))
    frame = encoder.complete_message("n1", "Error: empty", sender="system", metadata={"error": "x"})
    assert frame == (
        b'{"type":"message","id":"n1","content":"Error: empty","sender":"system",'
        b'"timestamp":"%s","session_id":"s1","metadata":{"error":"x"}}' % T.encode()
    )


def test_client_frames() -> None:
    assert decode_client_frame(b'{"type":"message","content":"hi","id":"c1"}') == SendMessage(
        "hi", "c1"
    )
    assert decode_client_frame(b'{"type":"message","content":"hi","sender":"user"}') == SendMessage(
        "hi"
    )
    assert decode_client_frame(b'{"type":"stop"}') == Stop()
    assert decode_client_frame(b'{"type":"ping"}') == Ping()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"{", "invalid_json"),
        (b'{"type":"nope"}', "unknown_type"),
        (b'{"type":"message"}', "invalid_frame"),
    ],
)
def test_malformed_client_frames(frame: bytes, code: str) -> None:
    with pytest.raises(FrameError) as info:
        decode_client_frame(frame)
    assert info.value.code == code


def test_the_history_names_the_agent_on_the_replies_only() -> None:
    items = msgspec.json.encode(history(stored(), agent("running_coach")))
    assert items == (
        b'[{"id":"0190f2a0-0000-7000-8000-000000000001","content":"Hello","sender":"user",'
        b'"timestamp":"2025-01-29T10:00:00.000Z"},'
        b'{"id":"0190f2a0-0000-7000-8000-000000000002","content":"Hi there","sender":"ai",'
        b'"timestamp":"2025-01-29T10:00:01.250Z","agentId":"running_coach",'
        b'"agentName":"Running Coach","agentType":"chat"}]'
    )
    assert agent(None) == Agent(id="assistant", name="Assistant", type="chat")


def test_plain_ws_chat_is_the_users_own_session() -> None:
    assert (session(None).kind, session(None).key) == ("message_stream", "chat")
    assert session("abc").key == "abc"
