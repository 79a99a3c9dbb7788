"""Named personas: a system prompt, and optionally a default model and temperature.

A few are built in; more come from a YAML or JSON file named by ``TOKENWIRE_PERSONAS_FILE``,
whose entries add to the built-in ones or replace them by name::

    personas:
      coach:
        description: A running coach
        system_prompt: You are a patient running coach.
        model: gpt-4o-mini        # optional
        temperature: 0.3          # optional

(a mapping of name to persona, under ``personas:`` or at the top level; a list of objects
with a ``name`` works too). The engine calls ``system_prompt(conversation)`` for every turn:
the conversation's persona gives the prompt, and the context given when the conversation was
created (``metadata``, such as a ``goal_id``) is appended to it, so the model can use it;
keys starting with ``_`` are the server's own and stay out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tokenwire.errors import TokenwireError, Unprocessable
from tokenwire.settings import Settings
from tokenwire.store.records import Conversation

__all__ = ["BUILTIN", "SYSTEM_KEY", "Persona", "Personas"]

# The metadata key under which a client's own system text is kept.
SYSTEM_KEY = "system"

# Context is for the model to read, not a channel for arbitrary payloads: keep it short.
_MAX_CONTEXT_ITEMS = 20
_MAX_CONTEXT_CHARS = 200


@dataclass(frozen=True, slots=True)
class Persona:
    name: str
    system_prompt: str
    description: str = ""
    model: str | None = None
    temperature: float | None = None


BUILTIN: tuple[Persona, ...] = (
    Persona(
        name="general",
        description="A helpful, concise assistant.",
        system_prompt="You are a helpful assistant. Answer clearly and concisely.",
    ),
    Persona(
        name="wellness_specialist",
        description="A supportive wellness coach for habits, sleep, movement and stress.",
        system_prompt=(
            "You are a supportive wellness specialist. Help the user build healthy habits "
            "around sleep, movement, nutrition and stress, with small practical steps. "
            "You are not a doctor: for symptoms or medical questions, suggest seeing a "
            "professional."
        ),
        temperature=0.7,
    ),
)


class Personas:
    """The personas a server offers, by name."""

    def __init__(self, personas: Mapping[str, Persona], *, default: str | None = None) -> None:
        self._by_name = dict(personas)
        if default is not None and default not in self._by_name:
            raise TokenwireError(f"the default persona {default!r} is not defined")
        self.default = default

    @classmethod
    def from_settings(cls, settings: Settings) -> Personas:
        """The built-in personas, extended or overridden by ``settings.personas_file``."""
        personas = {p.name: p for p in BUILTIN}
        if settings.personas_file is not None:
            personas.update((p.name, p) for p in load_file(settings.personas_file))
        return cls(personas, default=settings.default_persona)

    def __iter__(self) -> Iterator[Persona]:
        return iter(sorted(self._by_name.values(), key=lambda p: p.name))

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str | None) -> Persona | None:
        """The persona called ``name``; the default persona for None; None when unknown."""
        if name is None:
            name = self.default
        return None if name is None else self._by_name.get(name)

    def require(self, name: str) -> Persona:
        """The persona called ``name``, or ``Unprocessable`` (422) naming the known ones."""
        persona = self._by_name.get(name)
        if persona is None:
            known = ", ".join(sorted(self._by_name))
            raise Unprocessable(
                f"unknown persona {name!r} (known: {known})", code="unknown_persona"
            )
        return persona

    def system_prompt(self, conversation: Conversation) -> str | None:
        """The system prompt for a turn of ``conversation``: its persona's prompt, the system
        text its client gave (``metadata.system``: OpenAI and AI SDK clients send one), then
        the conversation's context; None when there is none of these."""
        persona = self.get(conversation.persona)
        metadata = dict(conversation.metadata)
        given = metadata.pop(SYSTEM_KEY, None)
        context = _context_lines(metadata)
        parts: list[str] = []
        if persona is not None:
            parts.append(persona.system_prompt)
        if isinstance(given, str) and given.strip():
            parts.append(given.strip())
        if context:
            parts.append("Context for this conversation:\n" + "\n".join(context))
        return "\n\n".join(parts) or None


def _context_lines(metadata: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    # Keys starting with "_" are the server's own bookkeeping (a dialect's session key), not
    # context the user gave.
    public = [(k, v) for k, v in metadata.items() if not str(k).startswith("_")]
    for key, value in public[:_MAX_CONTEXT_ITEMS]:
        if isinstance(value, bool) or value is None:
            text = json.dumps(value)
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            text = json.dumps(value, ensure_ascii=False, default=str)
        text = " ".join(text.split())[:_MAX_CONTEXT_CHARS]
        lines.append(f"- {key}: {text}")
    return lines


def load_file(path: Path) -> list[Persona]:
    """Personas from a YAML or JSON file (JSON is YAML, so one parser reads both)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TokenwireError(f"cannot read personas from {path}: {exc}") from exc
    if isinstance(raw, dict) and "personas" in raw:
        raw = raw["personas"]
    entries: list[tuple[str, Any]]
    if isinstance(raw, dict):
        entries = [(str(name), body) for name, body in raw.items()]
    elif isinstance(raw, list):
        entries = [
            (str(body.get("name", "")) if isinstance(body, dict) else "", body) for body in raw
        ]
    else:
        raise TokenwireError(f"{path}: expected a mapping or a list of personas")
    return [_persona(path, name, body) for name, body in entries]


def _persona(path: Path, name: str, body: Any) -> Persona:
    if isinstance(body, str):
        body = {"system_prompt": body}
    if not name or not isinstance(body, dict):
        raise TokenwireError(f"{path}: each persona needs a name and a mapping of fields")
    prompt = body.get("system_prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise TokenwireError(f"{path}: persona {name!r} needs a system_prompt")
    temperature = body.get("temperature")
    if temperature is not None and not isinstance(temperature, int | float):
        raise TokenwireError(f"{path}: persona {name!r}: temperature must be a number")
    model = body.get("model")
    return Persona(
        name=name,
        system_prompt=prompt.strip(),
        description=str(body.get("description") or ""),
        model=str(model) if model else None,
        temperature=None if temperature is None else float(temperature),
    )
