"""The consultation WebSocket of seeds 000 and 001.

Server frames (JSON text), every one decodable with the seed's ``WebSocketMessageWrapper``
(``type``, ``message``, ``consultation_id``, ``content``, ``timestamp``, ``error``; all but
``type`` optional)::

    {"type":"connected","consultation_id","timestamp"}        on connect
    {"type":"message_received","consultation_id","timestamp"} the user message is stored
    {"type":"stream_chunk","content","consultation_id","timestamp"}   one per delta
    {"type":"stream_complete","consultation_id","timestamp"}  the reply ended
    {"type":"message","message":{...},"consultation_id","timestamp"}  a complete message
    {"type":"error","error","code","consultation_id","timestamp"}
    {"type":"pong","timestamp"}

Client frames: ``{"type":"message","content"}`` and ``{"type":"ping"}`` (seed 001), plus
``{"type":"cancel"}``, a tokenwire extension that stops the reply being streamed.

Timestamps are whole seconds (``2025-01-29T10:00:00Z``, as in seed 000's own example):
the app decodes ``timestamp: Date?`` with ``.iso8601``, which fails on fractional seconds.

Swift's ``Decodable`` ignores keys it does not know but fails on a known key of the wrong
shape, so the frames add keys freely (``code``) but put ``message`` only where the seed
puts a message: in the ``message`` frame.
"""

from __future__ import annotations

import msgspec

from tokenwire.errors import BadRequest
from tokenwire.protocol import frames
from tokenwire.protocol.codec import Command, Ordering, StopRunning
from tokenwire.protocol.decoding import decode_json
from tokenwire.protocol.dialects.timestamps import Clock, to_seconds, utc_seconds
from tokenwire.protocol.events import Event, MessageDelta, MessageEnd, MessageError, MessageStart
from tokenwire.protocol.frames import decode_frame
from tokenwire.protocol.options import ById, TurnOptions, TurnRequest

__all__ = [
    "Cancel",
    "ClientFrame",
    "ConsultationCodec",
    "ConsultationDTO",
    "ConsultationEncoder",
    "CreateConsultation",
    "MessageDTO",
    "Ping",
    "PostMessage",
    "SendMessage",
    "decode_client_frame",
    "parse_create",
    "parse_post",
    "rest_error",
    "turn",
]


class MessageDTO(msgspec.Struct, frozen=True):
    """A message as the consultation API shows it: in ``message`` frames and in history."""

    id: str
    consultation_id: str
    role: str
    content: str
    created_at: str
    status: str = "complete"


# Field order below is the order of the seed's frames (seed 000, "Unit Test Example").


class _Connected(msgspec.Struct, tag="connected", tag_field="type"):
    consultation_id: str
    timestamp: str


class _MessageReceived(msgspec.Struct, tag="message_received", tag_field="type"):
    consultation_id: str
    timestamp: str


class _StreamChunk(msgspec.Struct, tag="stream_chunk", tag_field="type"):
    content: str
    consultation_id: str
    timestamp: str


class _StreamComplete(msgspec.Struct, tag="stream_complete", tag_field="type"):
    consultation_id: str
    timestamp: str


class _Message(msgspec.Struct, tag="message", tag_field="type"):
    message: MessageDTO
    consultation_id: str
    timestamp: str


class _Error(msgspec.Struct, tag="error", tag_field="type"):
    error: str
    code: str
    consultation_id: str
    timestamp: str


class _Pong(msgspec.Struct, tag="pong", tag_field="type"):
    timestamp: str


_encoder = msgspec.json.Encoder()


class ConsultationEncoder:
    """Canonical events of one consultation's replies -> seed 000 frames.

    One encoder serves a connection. ``own`` tells whether the reply answers a message sent
    on this connection: that one is acknowledged with ``message_received``; a reply started
    elsewhere (another device, the REST fallback) first shows its user message as a
    ``message`` frame, so that the conversation on screen stays whole.
    """

    def __init__(self, consultation_id: str, *, clock: Clock = utc_seconds) -> None:
        self.consultation_id = consultation_id
        self._clock = clock

    def connected(self) -> bytes:
        return _encoder.encode(_Connected(self.consultation_id, self._clock()))

    def pong(self) -> bytes:
        return _encoder.encode(_Pong(self._clock()))

    def error(self, message: str, code: str = "invalid_request") -> bytes:
        return _encoder.encode(_Error(message, code, self.consultation_id, self._clock()))

    def message(self, dto: MessageDTO) -> bytes:
        return _encoder.encode(_Message(dto, self.consultation_id, self._clock()))

    def encode(self, event: Event, *, own: bool = True) -> list[bytes]:
        """The frames for one event (none for ``message.queued``)."""
        if isinstance(event, MessageStart):
            if own:
                return [_encoder.encode(_MessageReceived(self.consultation_id, self._clock()))]
            user = event.user_message
            created = to_seconds(user.created_at)
            dto = MessageDTO(user.id, self.consultation_id, "user", user.content, created)
            return [self.message(dto)]
        if isinstance(event, MessageDelta):
            chunk = _StreamChunk(event.text, self.consultation_id, self._clock())
            return [_encoder.encode(chunk)]
        if isinstance(event, MessageEnd):
            return [self._complete()]
        if isinstance(event, MessageError):
            # The seed's client keeps accumulating chunks until ``stream_complete``
            # (seed 000, "Streaming Logic"): after the error it must still get one, or the
            # next reply would be appended to this one's partial text.
            return [self.error(event.error.message, event.error.code), self._complete()]
        return []

    def _complete(self) -> bytes:
        return _encoder.encode(_StreamComplete(self.consultation_id, self._clock()))


class SendMessage(msgspec.Struct, frozen=True, tag="message", tag_field="type"):
    """``{"type":"message","content"}`` (seed 001, "User Types Message")."""

    content: str
    client_message_id: str | None = None


class Ping(msgspec.Struct, frozen=True, tag="ping", tag_field="type"):
    pass


class Cancel(msgspec.Struct, frozen=True, tag="cancel", tag_field="type"):
    """Extension: stop the reply that is streaming now."""


ClientFrame = SendMessage | Ping | Cancel

_KNOWN = frozenset({"message", "ping", "cancel"})
_decoder: msgspec.json.Decoder[ClientFrame] = msgspec.json.Decoder(ClientFrame)


def decode_client_frame(data: str | bytes) -> ClientFrame:
    """Parse one client frame, or raise ``FrameError`` saying what is wrong with it."""
    return decode_frame(data, _decoder, _KNOWN)


class ConsultationCodec:
    """Seed 000's socket: ``connected`` on open, then whole replies one at a time (the app
    keeps one ``currentStreamingMessage``); ``cancel`` stops what is streaming."""

    ordering = Ordering.ONE_AT_A_TIME

    def __init__(self, consultation_id: str, *, clock: Clock = utc_seconds) -> None:
        self._encoder = ConsultationEncoder(consultation_id, clock=clock)

    def opened(self) -> list[bytes]:
        return [self._encoder.connected()]

    def encode(self, event: Event, *, own: bool) -> list[bytes]:
        return self._encoder.encode(event, own=own)

    def decode(self, data: str) -> Command:
        frame = decode_client_frame(data)
        if isinstance(frame, SendMessage):
            return frames.Send(content=frame.content, client_message_id=frame.client_message_id)
        return frames.Ping() if isinstance(frame, Ping) else StopRunning()

    def pong(self) -> bytes:
        return self._encoder.pong()

    def error(
        self,
        code: str,
        message: str,
        *,
        ref: str | None = None,
        client_message_id: str | None = None,
    ) -> bytes:
        return self._encoder.error(message, code)


# --- REST -----------------------------------------------------------------------------------


class ConsultationDTO(msgspec.Struct, frozen=True):
    """A consultation as ``/api/v1/consultations`` shows it."""

    id: str
    persona: str | None
    goal_id: str | None
    status: str
    created_at: str
    updated_at: str


class CreateConsultation(msgspec.Struct, frozen=True):
    """``POST /api/v1/consultations {persona, goal_id?}`` (seed 001, "Complete Flow")."""

    persona: str
    goal_id: str | None = None


class PostMessage(msgspec.Struct, frozen=True):
    """``POST /api/v1/consultations/{id}/messages``, the REST fallback of seed 001."""

    content: str
    client_message_id: str | None = None


_create = msgspec.json.Decoder(CreateConsultation)
_post = msgspec.json.Decoder(PostMessage)


def rest_error(message: str, code: str) -> bytes:
    """``{"error": <message>, "code"}``: the REST routes' error, the shape of the socket's
    ``error`` frame."""
    return _encoder.encode({"error": message, "code": code})


def parse_create(body: bytes) -> CreateConsultation:
    try:
        request = decode_json(body, _create)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"invalid request body: {exc}") from exc
    if not request.persona.strip() or len(request.persona) > 100:
        raise BadRequest("persona must be a name of 1 to 100 characters", code="invalid_persona")
    return request


def turn(consultation_id: str, post: PostMessage) -> TurnRequest:
    """The turn of a message posted to a consultation; its ``client_message_id`` makes a
    resend idempotent."""
    options = TurnOptions(client_message_id=post.client_message_id)
    return TurnRequest(ById(consultation_id), post.content, options)


def parse_post(body: bytes) -> PostMessage:
    try:
        return decode_json(body, _post)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"invalid request body: {exc}") from exc
