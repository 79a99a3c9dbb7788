"""What a request may set for one turn: the one options struct every dialect parses into.

``Engine.start_turn(user, ref, prompt, options)`` takes a ``TurnOptions``; whatever a dialect
accepts from its client lands here, so a field is honoured everywhere or refused by name,
never dropped on the way. ``Sampling`` is the part a provider reads; the rest is the engine's.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class Sampling(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Length and sampling settings, passed to the provider as given (``None``: its default).

    ``max_tokens`` is already capped by the server's own limit when it reaches a provider.
    ``stop`` sequences end the reply without being emitted (OpenAI's semantics).
    """

    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    # Who asks, and a caching hint: passed to an upstream model, kept with the reply.
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None


class TurnOptions(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Everything a request may set for one turn besides the prompt itself.

    ``model``/``persona``/``system`` apply to a conversation the turn creates, and ``model`` to
    the reply; ``parent_id`` names the message the new user message answers (a branch), the
    conversation's current leaf when ``None``; ``client_message_id`` makes a retried send
    return the first turn. ``tools``, ``tool_choice``, ``parallel_tool_calls`` and
    ``response_format`` are OpenAI's shapes, kept as the client sent them. With
    ``tool_call_id`` set, the prompt is not a user message but the result of that tool call
    (an agent loop's turn after its tools ran), stored as a ``tool`` message.
    """

    model: str | None = None
    persona: str | None = None
    system: str | None = None
    title: str | None = None
    sampling: Sampling = Sampling()
    images: tuple[str, ...] = ()
    parent_id: str | None = None
    client_message_id: str | None = None
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    tool_call_id: str | None = None


class CallInfo(msgspec.Struct, frozen=True):
    """A tool call an assistant turn made: OpenAI's ``tool_calls[]`` entry, flattened."""

    id: str
    name: str
    arguments: str


ROOT = ""
"""``TurnOptions.parent_id`` for a new first message (editing the conversation's first
message); ``None`` continues the current leaf."""


class PriorTurn(msgspec.Struct, frozen=True):
    """One message a stateless client resent before its prompt. An ``assistant`` turn may
    carry the ``tool_calls`` it made; a ``tool`` turn is the result of ``tool_call_id``."""

    role: Literal["user", "assistant", "tool"]
    content: str
    images: tuple[str, ...] = ()
    tool_calls: tuple[CallInfo, ...] = ()
    tool_call_id: str | None = None


class ById(msgspec.Struct, frozen=True):
    """A conversation named by its id (any case): the canonical API, the seeds' own ids."""

    id: str


class ByKey(msgspec.Struct, frozen=True):
    """A conversation a client names itself (seed 002's session id, the AI SDK's chat id):
    the one made under ``key`` in dialect ``kind``, made on first use with ``history`` (what
    the client held before its prompt) as prior turns."""

    kind: str
    key: str
    history: tuple[PriorTurn, ...] = ()


class ByHistory(msgspec.Struct, frozen=True):
    """A stateless client's conversation (OpenAI, the AI SDK): the one whose stored turns are
    exactly ``history`` (found by its digest), else a new one holding ``history`` as prior
    turns. ``system`` is part of what identifies it."""

    kind: str
    history: tuple[PriorTurn, ...]
    system: str | None = None


ConversationRef = ById | ByKey | ByHistory


class TurnRequest(msgspec.Struct, frozen=True):
    """A dialect's request, parsed: the conversation it names, the prompt and its options:
    the arguments of ``Engine.start_turn``."""

    ref: ConversationRef
    prompt: str
    options: TurnOptions = TurnOptions()
