"""Constrained output for the embedded model: llama.cpp grammars built from JSON schemas.

``response_format`` ``json_object`` and ``json_schema`` become a grammar that admits only
JSON of that shape, so the reply always parses (and validates). Tools become a grammar for
a JSON array of calls, ``[{"name": ..., "arguments": {...}}]``, one alternative per tool
with that tool's parameter schema; with ``tool_choice`` ``auto`` the grammar also admits
plain text that does not start with ``[``, so the first character decides which it is.
The model is told the format in an instruction appended to the system prompt: a grammar
keeps the output well formed, the instruction makes it likely to be meaningful.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from llama_cpp.llama_grammar import json_schema_to_gbnf

from tokenwire.errors import BadRequest
from tokenwire.providers.base import GenerationRequest

__all__ = ["Constraint", "constraint_for", "parse_calls"]

Mode = Literal["json", "tools", "tools_or_text"]

# json_schema_to_gbnf lets a string hold raw control characters, which JSON forbids
# (RFC 8259, section 7): its character rule gets them excluded.
_CHAR_RULE = re.compile(r'^char ::= \[\^"\\\\\]', re.MULTILINE)
_STRICT_CHAR = r'char ::= [^"\\\x00-\x1f]'
# Plain text, for tool_choice "auto": anything that does not open a JSON array.
_TEXT_RULES = "text ::= [^[\\x00] text-rest\ntext-rest ::= [^\\x00]*\n"


@dataclass(frozen=True, slots=True)
class Constraint:
    """A grammar for the reply, how to read it, and what to tell the model."""

    mode: Mode
    grammar: str
    instruction: str


def _gbnf(schema: dict[str, Any], *, param: str, root: str = "root") -> str:
    try:
        rules = json_schema_to_gbnf(json.dumps(schema))
    except (AssertionError, ValueError, KeyError, TypeError, RecursionError) as exc:
        # The converter reports what it cannot express with assertions.
        raise BadRequest(
            f"the JSON schema cannot be used to constrain the model: {exc}",
            code="invalid_schema",
            param=param,
        ) from exc
    rules = _CHAR_RULE.sub(lambda _: _STRICT_CHAR, rules)
    if root != "root":
        rules = re.sub(r"^root ::=", f"{root} ::=", rules, flags=re.MULTILINE)
    return rules.rstrip("\n") + "\n"


def _tool_name(tool: dict[str, Any]) -> str:
    return str(tool.get("function", {}).get("name", ""))


def _calls_schema(tools: list[dict[str, Any]], parallel: bool) -> dict[str, Any]:
    choices = []
    for tool in tools:
        function = tool.get("function", {})
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        choices.append(
            {
                "type": "object",
                "properties": {"name": {"const": function["name"]}, "arguments": parameters},
                "required": ["name", "arguments"],
            }
        )
    schema: dict[str, Any] = {"type": "array", "items": {"anyOf": choices}, "minItems": 1}
    if not parallel:
        schema["maxItems"] = 1
    return schema


def _tools_for(request: GenerationRequest) -> list[dict[str, Any]]:
    choice = request.tool_choice
    if isinstance(choice, dict):
        wanted = str(choice.get("function", {}).get("name", ""))
        chosen = [t for t in request.tools if _tool_name(t) == wanted]
        if not chosen:
            raise BadRequest(
                f"tool_choice: no tool is named {wanted!r}",
                code="invalid_value",
                param="tool_choice",
            )
        return chosen
    return list(request.tools)


def constraint_for(request: GenerationRequest) -> Constraint | None:
    """The constraint a request asks for, or ``None`` for free text."""
    if request.tools and request.tool_choice != "none":
        tools = _tools_for(request)
        schema = _calls_schema(tools, request.parallel_tool_calls is not False)
        listing = json.dumps([t.get("function", {}) for t in tools])
        how = (
            'To call tools, answer with only a JSON array of calls: [{"name": <tool name>, '
            '"arguments": {<arguments>}}].'
        )
        if request.tool_choice in (None, "auto"):
            return Constraint(
                "tools_or_text",
                f"root ::= calls | text\n{_gbnf(schema, param='tools', root='calls')}{_TEXT_RULES}",
                f"You can call these tools: {listing}\n{how} Otherwise answer in plain text.",
            )
        return Constraint(
            "tools", _gbnf(schema, param="tools"), f"You must call these tools: {listing}\n{how}"
        )
    response_format = request.response_format or {}
    kind = response_format.get("type", "text")
    if kind == "json_object":
        return Constraint(
            "json", _gbnf({"type": "object"}, param="response_format"), "Answer with a JSON object."
        )
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") or {"type": "object"}
        return Constraint(
            "json",
            _gbnf(schema, param="response_format"),
            f"Answer with JSON matching this schema: {json.dumps(schema)}",
        )
    return None


def parse_calls(text: str) -> list[tuple[str, str]] | None:
    """``(name, arguments JSON)`` of each call in the reply, or ``None`` when it is not a
    complete array of calls (a reply cut by its token limit)."""
    try:
        calls = json.loads(text)
    except ValueError:
        return None
    if not isinstance(calls, list):
        return None
    out: list[tuple[str, str]] = []
    for call in calls:
        if not isinstance(call, dict) or "name" not in call:
            return None
        out.append((str(call["name"]), json.dumps(call.get("arguments", {}))))
    return out
