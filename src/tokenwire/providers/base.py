"""The seam between the engine and a model.

A provider turns a conversation into a stream of text deltas and knows nothing else:
no storage, no event log, no HTTP toward clients. Cancelling the task that iterates a
provider's stream must stop the model promptly (close the upstream request, break the
decode loop): the engine relies on that for "cancel stops within one token".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from tokenwire.protocol.options import Sampling

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model made, whole: OpenAI's ``{"id", "type": "function", "function":
    {"name", "arguments"}}``, ``arguments`` being the JSON text the model wrote."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One message of the conversation. An ``assistant`` turn may carry the ``tool_calls``
    it made; a ``tool`` turn is the result of the call ``tool_call_id``."""

    role: Role
    content: str
    images: tuple[str, ...] = ()  # data URLs
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """What to generate. ``messages`` ends with the user turn being answered; ``prefix`` is
    assistant text already delivered (fallback mid-reply, takeover), which the provider
    continues rather than repeats."""

    messages: Sequence[ChatTurn]
    model: str | None = None
    sampling: Sampling = field(default_factory=Sampling)
    # OpenAI's shapes, as the client sent them (``protocol.options.TurnOptions``).
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    prefix: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One sampled token's log probability, and the ``top_logprobs`` most likely ones at
    its position (OpenAI's ``choices[].logprobs.content[]``)."""

    token: str
    logprob: float
    bytes: tuple[int, ...]
    top_logprobs: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class Delta:
    text: str
    logprobs: tuple[TokenLogprob, ...] = ()  # of the tokens this text came from, when asked


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call as OpenAI streams it: the call's ``index`` in the reply, its
    ``id`` and ``name`` on its first piece, then fragments of the ``arguments`` JSON."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Queued:
    """The request waits for the model; ``position`` requests are ahead (1 = next)."""

    position: int


@dataclass(frozen=True, slots=True)
class Done:
    finish_reason: Literal["stop", "length", "tool_calls"]
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


StreamItem = Delta | ToolCallDelta | Queued | Fallback | Done


@runtime_checkable
class Provider(Protocol):
    """A model behind an async stream of ``Delta`` items, optionally ``Queued`` items while it
    waits, and at most one final ``Done``. Failures raise ``tokenwire.errors.ProviderError``
    with ``retryable`` set."""

    name: str
    model: str
    supports_images: bool
    # What else it honours; a request asking for more is refused before anything is
    # stored (``capabilities.check``).
    supports_tools: bool
    supports_logprobs: bool
    supports_response_format: bool

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
