"""Wire dialects: the client protocols tokenwire speaks besides its own, each a pure
encoder over the canonical events (and a decoder of what its clients send).

    consultation     seeds 000/001: the consultation WebSocket (connected, stream_chunk ...)
    message_stream   seed 004: three-phase ``message_stream`` WebSocket frames
    session_sse      seed 002: data-only SSE start/token/end/error
    chat_image       seed 003: image chat SSE start/content/end/error
    openai_chat      OpenAI Chat Completions (chunks, ``[DONE]``, usage, completion object)
    vercel_ui        Vercel AI SDK UI message stream, protocol v1

No module here performs I/O or touches asyncio: the routes in ``tokenwire.api.dialects``
move the bytes. Encoders that need state (text so far, ids) are small objects fed one
canonical event at a time; everything else is a function.
"""
