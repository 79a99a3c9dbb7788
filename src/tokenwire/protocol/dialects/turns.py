"""What stateless dialects send besides the new message: the conversation so far.

OpenAI and the AI SDK resend the whole conversation with every request; the routes store
the turns that tokenwire does not hold yet, so that history lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class PriorTurn:
    """One message before the prompt."""

    role: Literal["user", "assistant"]
    content: str
    images: tuple[str, ...] = ()
