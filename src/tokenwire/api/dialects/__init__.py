"""Routes for the wire dialects: each module an ``APIRouter`` that parses its clients'
requests, calls the engine, and pipes the canonical events through its dialect's encoder
(``tokenwire.protocol.dialects``).

    consultation     /api/v1/consultations..., WS /api/v1/consultations/{id}/ws
    message_stream   WS /ws/chat, WS /ws/chat/{session_id}
    sessions         /sessions/{sessionId}/messages[/stream]
    chat_image       /api/v1/chat-image-stream, /api/v1/chat-image
    openai_chat      /v1/chat/completions, /v1/models
    vercel           /api/chat, /api/chat/{id}/stream

Each router renders errors in its own dialect's shape (``routes.dialect_route``).
"""
