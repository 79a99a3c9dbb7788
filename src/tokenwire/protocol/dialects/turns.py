"""What stateless dialects send besides the new message: the conversation so far.

OpenAI and the AI SDK resend the whole conversation with every request; the routes store
the turns that tokenwire does not hold yet, so that history lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class CallInfo:
    """A tool call an assistant turn made: OpenAI's ``tool_calls[]`` entry, flattened."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class PriorTurn:
    """One message before the prompt. An ``assistant`` turn may carry the ``tool_calls`` it
    made; a ``tool`` turn is the result of the call ``tool_call_id``."""

    role: Literal["user", "assistant", "tool"]
    content: str
    images: tuple[str, ...] = ()
    tool_calls: tuple[CallInfo, ...] = ()
    tool_call_id: str | None = None
