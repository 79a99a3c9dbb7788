"""Personas: built-in ones, a config file, and the system prompt they give a conversation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tokenwire.errors import TokenwireError, Unprocessable
from tokenwire.ids import ConversationId, UserId
from tokenwire.personas import Personas
from tokenwire.settings import Settings
from tokenwire.store.records import Conversation


def conversation(persona: str | None, **metadata: Any) -> Conversation:
    now = datetime.now(UTC)
    return Conversation(
        ConversationId("c"),
        UserId("u"),
        None,
        persona,
        None,
        metadata,
        created_at=now,
        updated_at=now,
    )


def personas(tmp_path: Path, text: str | None = None, name: str = "personas.yaml") -> Personas:
    path = None
    if text is not None:
        path = tmp_path / name
        path.write_text(text)
    return Personas.from_settings(Settings(personas_file=path, data_dir=tmp_path))


def test_built_in_personas(tmp_path: Path) -> None:
    found = personas(tmp_path)
    assert {p.name for p in found} >= {"general", "wellness_specialist"}
    wellness = found.require("wellness_specialist")
    assert "wellness" in wellness.system_prompt
    assert wellness.temperature == 0.7


def test_a_file_adds_and_overrides(tmp_path: Path) -> None:
    found = personas(
        tmp_path,
        """
personas:
  coach:
    description: A running coach
    system_prompt: You are a patient running coach.
    model: gpt-4o-mini
    temperature: 0.3
  general: You are terse.
""",
    )
    coach = found.require("coach")
    assert (coach.description, coach.model, coach.temperature) == (
        "A running coach",
        "gpt-4o-mini",
        0.3,
    )
    assert found.require("general").system_prompt == "You are terse."
    assert "wellness_specialist" in {p.name for p in found}


def test_a_json_list_works_too(tmp_path: Path) -> None:
    text = json.dumps([{"name": "pirate", "system_prompt": "Talk like a pirate."}])
    found = personas(tmp_path, text, "personas.json")
    assert found.require("pirate").system_prompt == "Talk like a pirate."


@pytest.mark.parametrize(
    "text",
    [
        "personas: [1, 2]",
        "coach: {description: no prompt}",
        "coach: {system_prompt: hi, temperature: warm}",
        "just a string",
        "a: [unclosed",
    ],
)
def test_bad_files_are_reported(tmp_path: Path, text: str) -> None:
    with pytest.raises(TokenwireError, match="personas"):
        personas(tmp_path, text)


def test_unknown_persona_is_unprocessable(tmp_path: Path) -> None:
    with pytest.raises(Unprocessable, match="general") as caught:
        personas(tmp_path).require("nobody")
    assert caught.value.status == 422


def test_system_prompt_carries_the_persona_and_the_context(tmp_path: Path) -> None:
    found = personas(tmp_path)
    prompt = found.system_prompt(
        conversation("wellness_specialist", goal_id="goal-42", steps=[1, 2], _key="s-1")
    )
    assert prompt is not None
    assert prompt.startswith(found.require("wellness_specialist").system_prompt)
    assert "- goal_id: goal-42" in prompt
    assert "- steps: [1, 2]" in prompt
    assert "_key" not in prompt


def test_no_persona_and_no_context_gives_no_system_prompt(tmp_path: Path) -> None:
    assert personas(tmp_path).system_prompt(conversation(None)) is None
    assert personas(tmp_path).system_prompt(conversation(None, goal_id=7)) == (
        "Context for this conversation:\n- goal_id: 7"
    )


def test_default_persona_applies_to_conversations_without_one(tmp_path: Path) -> None:
    found = Personas.from_settings(Settings(default_persona="general", data_dir=tmp_path))
    assert found.system_prompt(conversation(None)) == found.require("general").system_prompt
    with pytest.raises(TokenwireError, match="default persona"):
        Personas.from_settings(Settings(default_persona="nobody", data_dir=tmp_path))
