"""Factories named in the provider registry: Settings in, a ready Provider out.

Each imports its provider's module only when called, so that a server running one provider
never loads another's dependencies.
"""

from __future__ import annotations

from tokenwire.providers.base import Provider
from tokenwire.providers.queue import FairQueue
from tokenwire.providers.scripted import ScriptedProvider
from tokenwire.settings import Settings


def scripted(settings: Settings) -> Provider:
    slots = settings.scripted_slots
    return ScriptedProvider(
        text=settings.scripted_text,
        chunk_words=settings.scripted_chunk_words,
        delay_ms=settings.scripted_delay_ms,
        model=settings.model or "scripted",
        max_tokens=settings.max_tokens,
        queue=_line(settings, slots) if slots else None,
        context_words=settings.scripted_context_words,
        max_chunks=settings.scripted_max_chunks or None,
    )


def _line(settings: Settings, slots: int = 1) -> FairQueue:
    return FairQueue(
        slots=slots, max_waiting=settings.queue_max, retry_after=settings.queue_retry_after_s
    )


def llama(settings: Settings) -> Provider:
    from tokenwire.providers.llama import LlamaProvider, default_model_path

    return LlamaProvider(
        model_path=settings.model_path or default_model_path(),
        n_ctx=settings.llama_n_ctx,
        n_threads=settings.llama_threads,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        queue=_line(settings),
        preload=True,
    )


def openai(settings: Settings) -> Provider:
    from tokenwire.providers.openai import OpenAIProvider

    key = settings.openai_api_key
    return OpenAIProvider(
        base_url=settings.openai_base_url,
        model=settings.model or "gpt-4o-mini",
        api_key=key.get_secret_value() if key is not None else None,
        timeout_s=settings.openai_timeout_s,
        supports_images=settings.openai_images,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
    )


def fallback(settings: Settings) -> Provider:
    """The chain ``settings.providers`` names, each built by its own factory."""
    from tokenwire.providers import create_provider
    from tokenwire.providers.fallback import FallbackProvider

    names = [name for name in settings.provider_chain if name != "fallback"]
    return FallbackProvider(
        [create_provider(settings.model_copy(update={"providers": [name]})) for name in names]
    )
