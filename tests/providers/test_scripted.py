from __future__ import annotations

import pytest

from tokenwire.protocol.options import Sampling
from tokenwire.providers.base import ChatTurn, Delta, Done, GenerationRequest
from tokenwire.providers.scripted import ScriptedProvider, chunk_words

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize(
    "text", ["", "one", "Hello there world foo bar", "  lead  and trail  ", "a\nb c d e f g ✓"]
)
def test_chunks_join_back_to_the_text(text: str) -> None:
    for n in (1, 2, 3, 10):
        chunks = chunk_words(text, n)
        assert "".join(chunks) == text
        assert all(len(c.split()) <= n for c in chunks)


def test_seed_default_is_three_words() -> None:
    assert chunk_words("one two three four five", 3) == ["one two three", " four five"]


async def test_echo_and_prefix_continuation() -> None:
    provider = ScriptedProvider(chunk_words=2, delay_ms=0)
    request = GenerationRequest(messages=[ChatTurn("user", "alpha beta gamma delta")])
    items = [item async for item in provider.stream(request)]
    assert [i.text for i in items if isinstance(i, Delta)] == ["alpha beta", " gamma delta"]
    assert isinstance(items[-1], Done)
    assert items[-1].finish_reason == "stop"
    continued = GenerationRequest(messages=request.messages, prefix="alpha beta")
    rest = [i.text async for i in provider.stream(continued) if isinstance(i, Delta)]
    assert "".join(rest) == " gamma delta"


async def test_max_tokens_stops_with_length() -> None:
    provider = ScriptedProvider(text="a b c d e", chunk_words=1, delay_ms=0)
    items = [
        i
        async for i in provider.stream(
            GenerationRequest(messages=[], sampling=Sampling(max_tokens=2))
        )
    ]
    assert "".join(i.text for i in items if isinstance(i, Delta)) == "a b"
    assert isinstance(items[-1], Done)
    assert items[-1].finish_reason == "length"


async def test_a_stop_sequence_ends_the_reply_unsent() -> None:
    provider = ScriptedProvider(text="one two three four", chunk_words=1, delay_ms=0)
    request = GenerationRequest(messages=[], sampling=Sampling(stop=(" thr",)))
    items = [i async for i in provider.stream(request)]
    assert "".join(i.text for i in items if isinstance(i, Delta)) == "one two"
    assert isinstance(items[-1], Done)
    assert items[-1].finish_reason == "stop"


async def test_the_configured_cap_bounds_what_a_request_asks() -> None:
    provider = ScriptedProvider(text="a b c d e", chunk_words=1, delay_ms=0, max_tokens=2)
    request = GenerationRequest(messages=[], sampling=Sampling(max_tokens=50))
    items = [i async for i in provider.stream(request)]
    assert "".join(i.text for i in items if isinstance(i, Delta)) == "a b"
    assert isinstance(items[-1], Done)
    assert items[-1].finish_reason == "length"
