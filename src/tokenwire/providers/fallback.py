"""A chain of providers tried in order (``TOKENWIRE_PROVIDERS=openai,llama``).

A provider that fails before its first token hands over to the next one, and the user sees
nothing of it. A provider that fails mid-reply hands over too: the next one gets the text
delivered so far as ``request.prefix`` and continues the same assistant turn, so the user
reads one continuous reply. Every switch is reported as a ``Fallback`` item, which the engine
records in the message's ``metadata.fallbacks`` (it never reaches the wire as an event).
Only the last provider's failure reaches the user, or the failure of a provider that had
begun a tool call: another model cannot finish a call it did not start.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence

from tokenwire.errors import ProviderError, Unavailable
from tokenwire.providers.base import (
    Delta,
    Done,
    Fallback,
    GenerationRequest,
    Provider,
    StreamItem,
    ToolCallDelta,
    omitted_turns,
)

__all__ = ["FallbackProvider"]

log = logging.getLogger("tokenwire.providers.fallback")


class FallbackProvider:
    """Providers in order of preference, behind the one ``Provider`` interface."""

    name = "fallback"

    def __init__(self, providers: Sequence[Provider]) -> None:
        if not providers:
            raise ValueError("a fallback chain needs at least one provider")
        self.providers = list(providers)
        self.model = self.providers[0].model
        self.supports_images = any(p.supports_images for p in self.providers)
        self.supports_tools = any(p.supports_tools for p in self.providers)
        self.supports_logprobs = any(p.supports_logprobs for p in self.providers)
        self.supports_response_format = any(p.supports_response_format for p in self.providers)

    def admit(self) -> None:
        """Admit when any provider in the chain would; else refuse as the last one did."""
        refusal: Unavailable | None = None
        for provider in self.providers:
            try:
                provider.admit()
            except Unavailable as exc:
                refusal = exc
            else:
                return
        assert refusal is not None
        raise refusal

    def omitted_turns(self, request: GenerationRequest) -> int:
        """What the first provider of the chain leaves out of the prompt."""
        return omitted_turns(self.providers[0], request)

    def _candidates(self, request: GenerationRequest) -> list[Provider]:
        # A reply can only go where everything it asks for can go: images, tools, log
        # probabilities, a response format.
        has_images = any(turn.images for turn in request.messages)
        tools = bool(request.tools) and request.tool_choice != "none"
        logprobs = request.sampling.logprobs
        formatted = (request.response_format or {}).get("type", "text") != "text"
        return [
            p
            for p in self.providers
            if (p.supports_images or not has_images)
            and (p.supports_tools or not tools)
            and (p.supports_logprobs or not logprobs)
            and (p.supports_response_format or not formatted)
        ]

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        candidates = self._candidates(request)
        if not candidates:
            if any(turn.images for turn in request.messages):
                raise ProviderError(
                    "no model in the chain takes images", code="images_unsupported", retryable=False
                )
            raise ProviderError(
                "no model in the chain can answer as asked (tools, logprobs, response_format)",
                code="request_unsupported",
                retryable=False,
            )
        delivered: list[str] = []
        earlier_deltas = 0  # deltas from providers that failed, counted into completion tokens
        called = False  # a tool call has begun: no other model can finish it
        for index, provider in enumerate(candidates):
            attempt = request
            if delivered:
                attempt = dataclasses.replace(request, prefix=request.prefix + "".join(delivered))
            deltas = 0
            try:
                async for item in provider.stream(attempt):
                    if isinstance(item, Delta):
                        delivered.append(item.text)
                        deltas += 1
                    elif isinstance(item, ToolCallDelta):
                        called = True
                    elif isinstance(item, Done) and earlier_deltas:
                        item = dataclasses.replace(
                            item, completion_tokens=item.completion_tokens + earlier_deltas
                        )
                    yield item
                return
            except ProviderError as exc:
                if index == len(candidates) - 1 or called:
                    raise
                successor = candidates[index + 1]
                after = sum(len(text) for text in delivered)
                log.warning(
                    "provider %s failed after %d characters (%s); continuing on %s",
                    provider.name,
                    after,
                    exc.message,
                    successor.name,
                )
                earlier_deltas += deltas
                yield Fallback(
                    provider.name,
                    successor.name,
                    f"{exc.code}: {exc.message}",
                    after,
                    to_model=successor.model,
                )

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()
