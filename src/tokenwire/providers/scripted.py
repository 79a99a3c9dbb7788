"""A deterministic provider for tests and demos.

It replies with a fixed text, or by default echoes the user's message, cut into chunks of
N words with a pause between chunks: seed 002's server streamed 3 words every 100 ms.
``max_tokens`` counts chunks; ``stop`` sequences end the reply unsent. It cannot call tools,
report log probabilities or follow a response format, and says so (``supports_*``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from tokenwire.providers.base import (
    Delta,
    Done,
    GenerationRequest,
    Queued,
    StreamItem,
    last_user_text,
)
from tokenwire.providers.queue import FairQueue
from tokenwire.providers.stops import StopScanner


def chunk_words(text: str, words: int) -> list[str]:
    """Split ``text`` into pieces of ``words`` words each; joined, they give back ``text``."""
    tokens = re.findall(r"\s*\S+", text)
    tail = text[sum(len(t) for t in tokens) :]
    chunks = ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
    if tail:
        if chunks:
            chunks[-1] += tail
        else:
            chunks.append(tail)
    return chunks


class ScriptedProvider:
    name = "scripted"
    supports_images = True
    supports_tools = False
    supports_logprobs = False
    supports_response_format = False

    def __init__(
        self,
        *,
        text: str | None = None,
        chunk_words: int = 3,
        delay_ms: int = 100,
        model: str = "scripted",
        max_tokens: int | None = None,
        queue: FairQueue | None = None,
        context_words: int = 0,
        max_chunks: int | None = None,
    ) -> None:
        """``max_tokens``: the configured cap, which a request may lower but not raise.
        ``queue``: a line in front of the script, for a model that decodes a few replies at a
        time (as the embedded one does); none lets every reply run at once.
        ``max_chunks``: its own length limit, like a model's context."""
        self.model = model
        self.queue = queue
        self._text = text
        self._chunk_words = chunk_words
        self._delay = delay_ms / 1000
        self._context_words = context_words
        caps = [n for n in (max_tokens, max_chunks) if n is not None]
        self._max_tokens = min(caps) if caps else None

    def omitted_turns(self, request: GenerationRequest) -> int:
        """With a context window of ``context_words`` words (0: unbounded), how many of the
        oldest turns do not fit: as a local model trims, keeping system turns and at least
        the last turn."""
        if not self._context_words:
            return 0
        history = [t for t in request.messages if t.role != "system"]
        used = sum(len(t.content.split()) for t in request.messages if t.role == "system")
        keep = 0
        for turn in reversed(history):
            used += len(turn.content.split())
            if used > self._context_words and keep >= 1:
                break
            keep += 1
        return len(history) - keep

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        if self.queue is None:
            async for item in self._script(request):
                yield item
            return
        ticket = self.queue.join()
        try:
            async for position in self.queue.positions(ticket):
                yield Queued(position)
            async for item in self._script(request):
                yield item
        finally:
            self.queue.leave(ticket)

    async def _script(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        text = self._text if self._text is not None else last_user_text(request.messages)
        # Continuing a partial reply: deliver only what comes after it.
        if request.prefix and text.startswith(request.prefix):
            text = text[len(request.prefix) :]
        chunks = chunk_words(text, self._chunk_words)
        limits = [n for n in (request.sampling.max_tokens, self._max_tokens) if n is not None]
        limit = min(limits) if limits else None
        if limit is not None and len(chunks) > limit:
            chunks, finish = chunks[:limit], "length"
        else:
            finish = "stop"
        stops = StopScanner(request.sampling.stop)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i, chunk in enumerate(chunks):
            if i and self._delay:
                # Pace by the clock, as a model does: time the server spends on one chunk
                # does not push the later chunks back.
                await asyncio.sleep(max(0.0, started + i * self._delay - loop.time()))
            piece = stops.feed(chunk)
            if piece:
                yield Delta(piece)
            if stops.stopped:
                finish = "stop"
                chunks = chunks[: i + 1]
                break
        tail = stops.flush()
        if tail:
            yield Delta(tail)
        prompt_words = sum(len(t.content.split()) for t in request.messages)
        yield Done(
            finish_reason="length" if finish == "length" else "stop",
            prompt_tokens=prompt_words,
            completion_tokens=sum(len(c.split()) for c in chunks),
        )

    def admit(self) -> None:
        if self.queue is not None:
            self.queue.admit()

    async def aclose(self) -> None:
        return None
