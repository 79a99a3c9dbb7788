"""A request asking for what its provider cannot do is refused by name, before storage."""

from __future__ import annotations

import pytest

from tokenwire.errors import BadRequest
from tokenwire.protocol.options import Sampling, TurnOptions
from tokenwire.providers.capabilities import check
from tokenwire.providers.fallback import FallbackProvider
from tokenwire.providers.openai import OpenAIProvider
from tokenwire.providers.scripted import ScriptedProvider

TOOL = {"type": "function", "function": {"name": "f"}}


@pytest.mark.parametrize(
    ("options", "code", "param"),
    [
        (TurnOptions(tools=(TOOL,)), "tools_unsupported", "tools"),
        (TurnOptions(sampling=Sampling(logprobs=True)), "logprobs_unsupported", "logprobs"),
        (
            TurnOptions(response_format={"type": "json_object"}),
            "response_format_unsupported",
            "response_format",
        ),
    ],
)
def test_the_scripted_model_refuses_what_it_cannot_do(
    options: TurnOptions, code: str, param: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        check(ScriptedProvider(), options)
    assert (caught.value.code, caught.value.param, caught.value.status) == (code, param, 400)


def test_what_a_provider_can_do_passes() -> None:
    scripted = ScriptedProvider()
    check(scripted, TurnOptions(tools=(TOOL,), tool_choice="none"))
    check(scripted, TurnOptions(response_format={"type": "text"}))
    upstream = OpenAIProvider(base_url="http://127.0.0.1:9/v1", model="m")
    everything = TurnOptions(
        tools=(TOOL,),
        sampling=Sampling(logprobs=True),
        response_format={"type": "json_object"},
    )
    check(upstream, everything)
    # A chain can do what any of its providers can: the reply goes to that one.
    check(FallbackProvider([scripted, upstream]), everything)
