"""The Lume iOS app's consultation client (seeds 000 and 001), ported from its Swift.

Two clients share the server: ``ConsultationWebSocketManager`` (seed 001's live chat: dates
decoded with ``.iso8601``, ids lower-cased before use) and ``ChatBackendService`` (seed 000:
its REST calls through ``HTTPClient``, which decodes with ``.iso8601`` too, and paths built
from ``UUID.uuidString``, which is upper case). The Structs are the app's ``Codable`` types,
field for field; the ``Manager`` is ``processMessage`` and ``pollForAIResponse``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import httpx
import msgspec
from websockets.sync.client import ClientConnection, connect

from tests.seeds.swift import DecodingError, check_dates, decode

# --- ConsultationWebSocketManager.swift (seed 001) ------------------------------------------


class IncomingConsultationMessage(msgspec.Struct):
    type: str
    consultation_id: str | None = None
    content: str | None = None
    error: str | None = None
    timestamp: str | None = None  # Date?, .iso8601

    def __post_init__(self) -> None:
        check_dates(self.timestamp)


class BackendConsultation(msgspec.Struct):
    id: str
    user_id: str
    persona: str
    status: str
    message_count: int
    created_at: str  # Date
    updated_at: str  # Date
    started_at: str | None = None  # Date?
    goal_id: str | None = None

    def __post_init__(self) -> None:
        check_dates(self.created_at, self.updated_at, self.started_at)


class ConsultationData(msgspec.Struct):
    consultation: BackendConsultation


class CreateConsultationResponse(msgspec.Struct):
    data: ConsultationData


class ConsultationResponse(msgspec.Struct):
    data: BackendConsultation


class ConflictDetails(msgspec.Struct):
    existing_consultation_id: str
    persona: str
    status: str
    can_continue: bool
    goal_id: str | None = None


class ConflictError(msgspec.Struct):
    code: str
    message: str
    details: ConflictDetails


class ConflictErrorResponse(msgspec.Struct):
    error: ConflictError


class BackendMessage(msgspec.Struct):
    id: str
    consultation_id: str
    role: str
    content: str
    created_at: str  # Date

    def __post_init__(self) -> None:
        check_dates(self.created_at)


class MessagesData(msgspec.Struct):
    messages: list[BackendMessage]


class BackendMessagesResponse(msgspec.Struct):
    data: MessagesData


# --- ChatBackendService.swift and HTTPClient.swift (seed 000) -------------------------------


class WebSocketMessageDTO(msgspec.Struct):
    id: str
    consultation_id: str
    role: str
    content: str
    created_at: str  # String, parsed with ISO8601DateFormatter() (else "now")
    function_name: str | None = None
    function_args: str | None = None
    tokens_used: int | None = None
    processing_time_ms: int | None = None


class WebSocketMessageWrapper(msgspec.Struct):
    type: str
    message: WebSocketMessageDTO | None = None
    consultation_id: str | None = None
    content: str | None = None
    timestamp: str | None = None  # String here
    error: str | None = None


class MessageMetadataDTO(msgspec.Struct):
    persona: str | None = None
    context: dict[str, str] | None = None
    tokens: int | None = None
    processing_time: float | None = None
    is_streaming: bool | None = None


class MessageDTO(msgspec.Struct):
    id: str
    role: str
    content: str
    created_at: str  # Date, .iso8601 (HTTPClient)
    metadata: MessageMetadataDTO | None = None

    def __post_init__(self) -> None:
        check_dates(self.created_at)


class ConversationDTO(msgspec.Struct):
    id: str
    user_id: str
    persona: str
    status: str
    message_count: int
    created_at: str
    updated_at: str
    goal_id: str | None = None
    # ContextType? : a value outside the enum fails the whole decode
    context_type: str | None = None
    context_id: str | None = None
    quick_action: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    last_message_at: str | None = None
    messages: list[MessageDTO] | None = None
    has_context_for_goal_suggestions: bool | None = None

    def __post_init__(self) -> None:
        if self.context_type not in (None, "goal", "mood", "insight", "general"):
            raise ValueError(f"ContextType has no case {self.context_type!r}")


class CreateConversationData(msgspec.Struct):
    consultation: ConversationDTO
    needs_survey: bool | None = None


class CreateConversationResponse(msgspec.Struct):
    data: CreateConversationData


class ConversationResponse(msgspec.Struct):
    data: ConversationDTO


class ConversationsListData(msgspec.Struct):
    consultations: list[ConversationDTO]
    total_count: int
    limit: int
    offset: int


class ConversationsListResponse(msgspec.Struct):
    data: ConversationsListData


class MessagesListData(msgspec.Struct):
    messages: list[MessageDTO]
    total: int
    has_more: bool


class MessagesListResponse(msgspec.Struct):
    data: MessagesListData


class SendMessageData(msgspec.Struct):
    user_message: MessageDTO
    assistant_message: MessageDTO | None = None


class MessageResponse(msgspec.Struct):
    data: SendMessageData


class BackendError(msgspec.Struct):
    code: str
    message: str


class BackendErrorResponse(msgspec.Struct):
    error: BackendError


class HTTPConflictDetails(msgspec.Struct):
    existing_consultation_id: str
    persona: str
    status: str
    can_continue: bool
    goal_id: str | None = None


class HTTPConflictError(msgspec.Struct):
    code: str
    message: str
    details: HTTPConflictDetails | None = None


class HTTPConflictErrorResponse(msgspec.Struct):
    success: bool
    error: HTTPConflictError


def http_error(response: httpx.Response) -> BackendError:
    """``HTTPClient.parseError``: what the app shows for a refused request."""
    assert response.status_code >= 400, response.text
    return decode(response.content, BackendErrorResponse).error


# --- the manager -----------------------------------------------------------------------------


@dataclass
class ShownMessage:
    """``ConsultationMessage``: what the chat screen lists."""

    id: str
    role: str
    content: str
    is_streaming: bool


@dataclass
class Manager:
    """``ConsultationWebSocketManager``: its state survives reconnects, as in the app."""

    base_url: str
    ws_url: str
    token: str
    consultation_id: str | None = None
    messages: list[ShownMessage] = field(default_factory=list)
    is_ai_typing: bool = False
    error: str | None = None
    current_streaming_message: str = ""
    current_streaming_message_id: str | None = None
    undecodable: list[str] = field(default_factory=list)
    ws: ClientConnection | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-API-Key": "app-key"}

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.headers(), timeout=30)

    def get_or_create(self, persona: str, goal_id: str | None = None) -> BackendConsultation:
        body: dict[str, str] = {"persona": persona}
        if goal_id is not None:
            body["goal_id"] = goal_id
        with self.http() as client:
            response = client.post("/api/v1/consultations", json=body)
            if response.status_code == 409:
                conflict = decode(response.content, ConflictErrorResponse)
                return self.fetch(conflict.error.details.existing_consultation_id)
            assert response.status_code == 201, response.text
            return decode(response.content, CreateConsultationResponse).data.consultation

    def fetch(self, cid: str) -> BackendConsultation:
        with self.http() as client:
            response = client.get(f"/api/v1/consultations/{cid.lower()}")
        assert response.status_code == 200, response.text
        return decode(response.content, ConsultationResponse).data

    def load_history(self) -> None:
        assert self.consultation_id is not None
        with self.http() as client:
            response = client.get(f"/api/v1/consultations/{self.consultation_id.lower()}/messages")
        if response.status_code != 200:
            return
        history = decode(response.content, BackendMessagesResponse)
        self.messages = [
            ShownMessage(m.id, "user" if m.role == "user" else "assistant", m.content, False)
            for m in history.data.messages
        ]

    def connect(self, cid: str | None = None) -> None:
        """``connect(consultationID:)``; the streaming state is left as it is."""
        self.consultation_id = cid or self.consultation_id
        assert self.consultation_id is not None
        url = f"{self.ws_url}/api/v1/consultations/{self.consultation_id.lower()}/ws"
        self.ws = connect(url, additional_headers=self.headers()).__enter__()

    def disconnect(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    def send(self, content: str) -> None:
        assert self.ws is not None
        self.messages.append(ShownMessage(str(uuid.uuid4()).upper(), "user", content, False))
        self.ws.send(msgspec.json.encode({"type": "message", "content": content}).decode())
        self.is_ai_typing = True
        self.current_streaming_message = ""
        self.current_streaming_message_id = None

    def receive(self, timeout: float = 20) -> IncomingConsultationMessage | None:
        """One frame through ``handleIncomingMessage``; None when it did not decode (the
        app logs it and drops it)."""
        assert self.ws is not None
        text = self.ws.recv(timeout=timeout)
        assert isinstance(text, str)
        try:
            message = decode(text, IncomingConsultationMessage)
        except DecodingError:
            self.undecodable.append(text)
            return None
        self.process(message)
        return message

    def process(self, message: IncomingConsultationMessage) -> None:
        if message.type == "stream_chunk" and message.content is not None:
            self.current_streaming_message += message.content
            shown = next(
                (m for m in self.messages if m.id == self.current_streaming_message_id), None
            )
            if shown is not None:
                shown.content = self.current_streaming_message
            else:
                self.current_streaming_message_id = str(uuid.uuid4()).upper()
                self.messages.append(
                    ShownMessage(
                        self.current_streaming_message_id,
                        "assistant",
                        self.current_streaming_message,
                        True,
                    )
                )
        elif message.type == "stream_complete":
            for m in self.messages:
                if m.id == self.current_streaming_message_id:
                    m.is_streaming = False
            self.is_ai_typing = False
            self.current_streaming_message = ""
            self.current_streaming_message_id = None
        elif message.type == "error":
            self.error = message.error or "Unknown error"
            self.is_ai_typing = False

    def until(self, kind: str, timeout: float = 30) -> list[IncomingConsultationMessage]:
        """Frames until one of ``kind`` (included)."""
        seen: list[IncomingConsultationMessage] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.receive(timeout=deadline - time.monotonic())
            if message is not None:
                seen.append(message)
                if message.type == kind:
                    return seen
        raise AssertionError(f"no {kind} frame within {timeout}s: {seen}")

    def poll_for_ai_response(self, attempts: int = 40, interval: float = 0.25) -> bool:
        """``pollForAIResponse``: reload the history until its last message is the
        assistant's (the app's loop, faster)."""
        for _ in range(attempts):
            time.sleep(interval)
            self.load_history()
            if self.messages and self.messages[-1].role == "assistant":
                self.is_ai_typing = False
                return True
        self.is_ai_typing = False
        return False
