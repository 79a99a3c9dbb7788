"""Grammars for the embedded model's constrained output, built from JSON schemas."""

from __future__ import annotations

from typing import Any

import pytest

from tokenwire.errors import BadRequest
from tokenwire.providers.base import ChatTurn, GenerationRequest
from tokenwire.providers.grammars import constraint_for, parse_calls

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME: dict[str, Any] = {"type": "function", "function": {"name": "get_time"}}


def ask(**options: Any) -> GenerationRequest:
    return GenerationRequest([ChatTurn("user", "hi")], **options)


def test_no_tools_and_no_format_is_free_text() -> None:
    assert constraint_for(ask()) is None
    assert constraint_for(ask(response_format={"type": "text"})) is None
    assert constraint_for(ask(tools=(WEATHER,), tool_choice="none")) is None


def test_required_tools_admit_only_an_array_of_calls() -> None:
    constraint = constraint_for(ask(tools=(WEATHER, TIME), tool_choice="required"))
    assert constraint is not None
    assert constraint.mode == "tools"
    assert constraint.grammar.startswith("char ::= ")
    assert 'root ::= "[" space item ("," space item)* "]" space\n' in constraint.grammar
    assert '"\\"get_weather\\""' in constraint.grammar
    assert '"\\"get_time\\""' in constraint.grammar
    # JSON strings may not hold raw control characters (RFC 8259, section 7).
    assert 'char ::= [^"\\\\\\x00-\\x1f]' in constraint.grammar


def test_parallel_tool_calls_false_admits_one_call() -> None:
    constraint = constraint_for(
        ask(tools=(WEATHER,), tool_choice="required", parallel_tool_calls=False)
    )
    assert constraint is not None
    assert 'root ::= "[" space item "]" space\n' in constraint.grammar


def test_auto_admits_calls_or_text_that_does_not_open_an_array() -> None:
    constraint = constraint_for(ask(tools=(WEATHER,)))
    assert constraint is not None
    assert constraint.mode == "tools_or_text"
    assert constraint.grammar.startswith("root ::= calls | text\n")
    assert "text ::= [^[\\x00] text-rest\n" in constraint.grammar


def test_a_named_tool_choice_admits_only_that_tool() -> None:
    choice = {"type": "function", "function": {"name": "get_time"}}
    constraint = constraint_for(ask(tools=(WEATHER, TIME), tool_choice=choice))
    assert constraint is not None
    assert "get_time" in constraint.grammar
    assert "get_weather" not in constraint.grammar


def test_a_tool_choice_naming_no_tool_is_refused_by_name() -> None:
    choice = {"type": "function", "function": {"name": "nope"}}
    with pytest.raises(BadRequest) as caught:
        constraint_for(ask(tools=(WEATHER,), tool_choice=choice))
    assert caught.value.param == "tool_choice"


def test_response_formats() -> None:
    json_object = constraint_for(ask(response_format={"type": "json_object"}))
    assert json_object is not None
    assert json_object.mode == "json"
    assert "root ::= object\n" in json_object.grammar
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    json_schema = constraint_for(ask(response_format=fmt))
    assert json_schema is not None
    assert 'root ::= "{" space n-kv "}" space\n' in json_schema.grammar


def test_parse_calls() -> None:
    text = '[{"name": "get_weather", "arguments": {"city": "Paris"}}]'
    assert parse_calls(text) == [("get_weather", '{"city": "Paris"}')]
    assert parse_calls('[{"name": "get_weather", "arguments": {"ci') is None
    assert parse_calls('{"name": "x"}') is None


def test_a_schema_no_grammar_can_express_is_refused_by_name() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "foo"}}}
    with pytest.raises(BadRequest) as caught:
        constraint_for(ask(response_format=fmt))
    assert (caught.value.code, caught.value.param) == ("invalid_schema", "response_format")
    remote = {"type": "function", "function": {"name": "f", "parameters": {"$ref": "http://x/y"}}}
    with pytest.raises(BadRequest) as caught:
        constraint_for(ask(tools=(remote,), tool_choice="required"))
    assert caught.value.param == "tools"
