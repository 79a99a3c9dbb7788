"""The seam between the engine and a model.

A provider turns a conversation into a stream of text deltas and knows nothing else:
no storage, no event log, no HTTP toward clients. Cancelling the task that iterates a
provider's stream must stop the model promptly (close the upstream request, break the
decode loop): the engine relies on that for "cancel stops within one token".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatTurn:
    role: Role
    content: str
    images: tuple[str, ...] = ()  # data URLs


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """What to generate. ``messages`` ends with the user turn being answered; ``prefix`` is
    assistant text already delivered (fallback mid-reply, takeover), which the provider
    continues rather than repeats."""

    messages: Sequence[ChatTurn]
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    prefix: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delta:
    text: str


@dataclass(frozen=True, slots=True)
class Queued:
    """The request waits for the model; ``position`` requests are ahead (1 = next)."""

    position: int


@dataclass(frozen=True, slots=True)
class Done:
    finish_reason: Literal["stop", "length"]
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Fallback:
    """The reply moved to another provider; the engine records it in ``metadata.fallbacks``."""

    from_provider: str
    to_provider: str
    reason: str
    after_chars: int  # how much of the reply the earlier provider had delivered
    to_model: str | None = None  # the model that writes the rest


StreamItem = Delta | Queued | Fallback | Done


@runtime_checkable
class Provider(Protocol):
    """A model behind an async stream of ``Delta`` items, optionally ``Queued`` items while it
    waits, and at most one final ``Done``. Failures raise ``tokenwire.errors.ProviderError``
    with ``retryable`` set."""

    name: str
    model: str
    supports_images: bool

    def admit(self) -> None:
        """Raise ``tokenwire.errors.Unavailable`` (with ``retry_after``) when the provider
        cannot take another request now; called before anything is stored."""
        ...

    def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]: ...

    async def aclose(self) -> None: ...


def omitted_turns(provider: Provider, request: GenerationRequest) -> int:
    """How many of the oldest turns of ``request`` the provider leaves out of its prompt to
    fit its context window: its ``omitted_turns(request)``, for a provider that trims."""
    measure = getattr(provider, "omitted_turns", None)
    return int(measure(request)) if callable(measure) else 0


def last_user_text(messages: Sequence[ChatTurn]) -> str:
    for turn in reversed(messages):
        if turn.role == "user":
            return turn.content
    return ""
