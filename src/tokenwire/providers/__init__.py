"""Providers, chosen by name from a registry (``TOKENWIRE_PROVIDER=llama|openai|scripted``).

Entries are import strings so that a server using one provider never imports another's
dependencies (llama.cpp is heavy to load).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

from tokenwire.errors import TokenwireError
from tokenwire.providers.base import (
    ChatTurn,
    Delta,
    Done,
    Fallback,
    GenerationRequest,
    Provider,
    Queued,
    StreamItem,
)
from tokenwire.settings import Settings

__all__ = [
    "REGISTRY",
    "ChatTurn",
    "Delta",
    "Done",
    "Fallback",
    "GenerationRequest",
    "Provider",
    "Queued",
    "StreamItem",
    "create_provider",
]

# name -> "module:factory"; each factory takes Settings and returns a Provider.
REGISTRY: dict[str, str] = {
    "scripted": "tokenwire.providers.factories:scripted",
    "llama": "tokenwire.providers.factories:llama",
    "openai": "tokenwire.providers.factories:openai",
    "fallback": "tokenwire.providers.factories:fallback",
}


def _load(name: str) -> Callable[[Settings], Provider]:
    try:
        target = REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise TokenwireError(f"unknown provider {name!r} (known: {known})") from None
    module_name, _, attr = target.partition(":")
    return cast(Callable[[Settings], Provider], getattr(importlib.import_module(module_name), attr))


def create_provider(settings: Settings) -> Provider:
    """The provider the settings name: one, or a fallback chain when several are listed."""
    chain = settings.provider_chain
    if len(chain) == 1:
        return _load(chain[0])(settings)
    return _load("fallback")(settings)
