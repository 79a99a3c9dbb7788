"""OpenAI chat completions requests: every published field honoured or refused by name."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from openai.types.chat import completion_create_params

from tests.protocol.dialects.openai_schema import CASES, PUBLISHED, Honoured, Refused
from tokenwire.errors import BadRequest
from tokenwire.protocol.dialects.openai_request import parse_request
from tokenwire.protocol.dialects.turns import CallInfo, PriorTurn
from tokenwire.protocol.options import Sampling, TurnOptions

BASE: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}


def body(**fields: Any) -> bytes:
    return msgspec.json.encode({**BASE, **fields})


def refusal(raw: bytes) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        parse_request(raw)
    assert caught.value.status == 400
    return caught.value


def test_the_fixture_lists_every_field_of_the_installed_sdk() -> None:
    sdk = set(completion_create_params.CompletionCreateParamsBase.__annotations__)
    sdk |= set(completion_create_params.CompletionCreateParamsStreaming.__annotations__)
    assert sdk <= set(PUBLISHED), f"fields the fixture lacks: {sorted(sdk - set(PUBLISHED))}"


def test_every_published_field_has_a_case() -> None:
    assert sorted(CASES) == sorted(PUBLISHED)


@pytest.mark.parametrize(
    ("field", "case"),
    [(field, case) for field, cases in CASES.items() for case in cases],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_each_field_is_honoured_or_refused_by_name(field: str, case: Honoured | Refused) -> None:
    raw = body(**case.fields)
    if isinstance(case, Honoured):
        assert case.effect(parse_request(raw)), f"{field}: {case.fields} had no effect"
    else:
        assert refusal(raw).param == case.param


def test_a_field_outside_the_schema_is_refused_by_name() -> None:
    error = refusal(body(top_k=5))
    assert (error.param, error.code) == ("top_k", "unknown_parameter")
    assert error.message == "Unrecognized request argument supplied: top_k"


def test_null_is_the_same_as_absent() -> None:
    nulls = {field: None for field in PUBLISHED if field not in ("model", "messages")}
    call = parse_request(body(**nulls))
    assert call.options == TurnOptions(model="m")
    assert call.options.sampling == Sampling()


def test_the_options_of_a_full_request() -> None:
    call = parse_request(
        body(
            messages=[
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
            ],
            max_completion_tokens=64,
            stop=["\n\n"],
            temperature=0.3,
            top_p=0.9,
            seed=1,
            presence_penalty=0.5,
            frequency_penalty=0.25,
            logit_bias={"11": 5},
            logprobs=True,
            top_logprobs=2,
            user="u",
            tools=[
                {
                    "type": "function",
                    "function": {"name": "get_weather", "description": "d", "strict": True},
                }
            ],
            tool_choice="required",
            parallel_tool_calls=False,
            response_format={"type": "text"},
            metadata={"trace": "t1"},
        )
    )
    assert call.prompt == "Weather in Paris?"
    assert call.system == "Be brief."
    assert call.options == TurnOptions(
        model="m",
        system="Be brief.",
        sampling=Sampling(
            max_tokens=64,
            stop=("\n\n",),
            temperature=0.3,
            top_p=0.9,
            seed=1,
            presence_penalty=0.5,
            frequency_penalty=0.25,
            logit_bias={"11": 5.0},
            logprobs=True,
            top_logprobs=2,
            user="u",
        ),
        tools=(
            {
                "type": "function",
                "function": {"name": "get_weather", "description": "d", "strict": True},
            },
        ),
        tool_choice="required",
        parallel_tool_calls=False,
        response_format={"type": "text"},
        metadata={"trace": "t1"},
    )


CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def test_a_tool_round_trip_history_is_accepted() -> None:
    call = parse_request(
        body(
            messages=[
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": None, "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ]
        )
    )
    assert call.history == (
        PriorTurn("user", "Weather?"),
        PriorTurn(
            "assistant", "", tool_calls=(CallInfo("call_1", "get_weather", '{"city": "Paris"}'),)
        ),
    )
    # The turn's prompt is the tool's result, for the call it answers.
    assert call.prompt == "sunny"
    assert call.options.tool_call_id == "call_1"


def test_parallel_tool_results_before_a_new_user_message() -> None:
    second = {**CALL, "id": "call_2"}
    call = parse_request(
        body(
            messages=[
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "tool_calls": [CALL, second]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {
                    "role": "tool",
                    "tool_call_id": "call_2",
                    "content": [{"type": "text", "text": "rain"}],
                },
                {"role": "assistant", "content": "Sunny, then rain."},
                {"role": "user", "content": "Thanks"},
            ]
        )
    )
    assert [t.role for t in call.history] == ["user", "assistant", "tool", "tool", "assistant"]
    assert call.history[3] == PriorTurn("tool", "rain", tool_call_id="call_2")
    assert call.options.tool_call_id is None


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"role": "tool", "tool_call_id": "call_1", "content": "x"}], "messages[0].tool_call_id"),
        (
            [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "call_9", "content": "x"},
            ],
            "messages[2].tool_call_id",
        ),
        ([{"role": "assistant", "content": "x"}], "messages"),
        ([{"role": "function", "name": "f", "content": "x"}], "messages[0].role"),
        ([{"role": "robot", "content": "x"}], "messages[0].role"),
        (
            [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
            "messages[0].content[0].type",
        ),
        ([{"role": "tool", "content": "x"}], "messages[0]"),
    ],
)
def test_bad_messages_are_refused_by_name(messages: list[dict[str, Any]], param: str) -> None:
    assert refusal(body(messages=messages)).param == param


def test_malformed_json_is_a_400_without_a_param() -> None:
    error = refusal(b"{")
    assert error.param is None
    assert error.code == "invalid_request_error"


def test_model_is_required() -> None:
    assert refusal(b'{"messages": [{"role": "user", "content": "x"}]}').message.startswith(
        "body: Object missing required field `model`"
    )
