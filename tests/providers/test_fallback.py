"""The fallback chain, over real parts: the in-test upstream and the embedded model."""

from __future__ import annotations

import pytest

from tests.providers.upstream import Reply, Upstream
from tokenwire.errors import ProviderError, Unavailable
from tokenwire.protocol.options import Sampling
from tokenwire.providers import (
    ChatTurn,
    Delta,
    Done,
    Fallback,
    GenerationRequest,
    Provider,
    StreamItem,
)
from tokenwire.providers.fallback import FallbackProvider
from tokenwire.providers.llama import LlamaProvider, default_model_path
from tokenwire.providers.openai import OpenAIProvider
from tokenwire.providers.queue import FairQueue
from tokenwire.providers.scripted import ScriptedProvider

pytestmark = pytest.mark.anyio

REQUEST = GenerationRequest(
    [ChatTurn("user", "Count from one to ten in words.")],
    sampling=Sampling(max_tokens=6, temperature=0.0),
)


def upstream(url: str) -> OpenAIProvider:
    return OpenAIProvider(base_url=url, model="up")


async def collect(
    chain: FallbackProvider, request: GenerationRequest = REQUEST
) -> list[StreamItem]:
    try:
        return [item async for item in chain.stream(request)]
    finally:
        await chain.aclose()


def text(items: list[StreamItem]) -> str:
    return "".join(i.text for i in items if isinstance(i, Delta))


async def test_the_first_provider_answers_when_it_can() -> None:
    async with Upstream(Reply(deltas=["One", ", two"])) as up:
        chain = FallbackProvider([upstream(up.url), upstream(up.url)])
        items = await collect(chain)
    assert items == [Delta("One"), Delta(", two"), Done("stop", 11, 2)]
    assert len(up.requests) == 1


async def test_failure_before_the_first_token_moves_on_invisibly(llama: LlamaProvider) -> None:
    async with Upstream(Reply(status=503, body=b"down")) as up:
        items = await collect(FallbackProvider([upstream(up.url), llama]))
    fallback, *rest = items
    # Recorded for the message's metadata, but no text was delivered before the switch.
    assert isinstance(fallback, Fallback)
    assert fallback == Fallback("openai", "llama", fallback.reason, 0, to_model=llama.model)
    assert fallback.reason.startswith("upstream_unavailable: ")
    assert all(isinstance(i, Delta) for i in rest[:-1])
    assert isinstance(rest[-1], Done)
    assert text(items).strip()


async def test_failure_mid_reply_continues_on_the_next_provider(llama: LlamaProvider) -> None:
    async with Upstream(Reply(deltas=["One,", " two,", " three,"], cut=True)) as up:
        items = await collect(FallbackProvider([upstream(up.url), llama]))
    assert items[:3] == [Delta("One,"), Delta(" two,"), Delta(" three,")]
    fallback = items[3]
    assert isinstance(fallback, Fallback)
    assert (fallback.from_provider, fallback.to_provider) == ("openai", "llama")
    assert fallback.after_chars == len("One, two, three,")
    assert fallback.reason.startswith("upstream_incomplete: ")
    done = items[-1]
    assert isinstance(done, Done)
    # The embedded model picks up the count where the upstream stopped: one reply.
    continuation = text(items[4:])
    assert "four" in continuation.lower()
    assert "one" not in continuation.lower().split(",")[0]
    # Completion tokens cover both providers' parts.
    assert done.completion_tokens == 3 + llama.tokens_generated - (done.finish_reason == "stop")


async def test_the_next_provider_gets_the_partial_as_the_assistant_turn() -> None:
    async with (
        Upstream(Reply(deltas=["Once", " upon"], cut=True)) as first,
        Upstream(Reply(deltas=[" a time."])) as second,
    ):
        items = await collect(FallbackProvider([upstream(first.url), upstream(second.url)]))
    assert text(items) == "Once upon a time."
    assert second.requests[0]["messages"][-1] == {"role": "assistant", "content": "Once upon"}


async def test_a_tool_call_cut_mid_way_is_not_handed_over() -> None:
    piece = {"index": 0, "id": "call_a", "type": "function", "function": {"name": "f"}}
    async with (
        Upstream(Reply(deltas=[], tool_calls=[piece], cut=True)) as first,
        Upstream(Reply(deltas=["text"])) as second,
    ):
        chain = FallbackProvider([upstream(first.url), upstream(second.url)])
        with pytest.raises(ProviderError) as caught:
            await collect(chain)
    assert caught.value.code == "upstream_incomplete"
    assert second.requests == []  # another model cannot finish a call it did not start


async def test_tool_requests_go_only_to_providers_that_call_tools() -> None:
    scripted = ScriptedProvider(text="plain", delay_ms=0)
    request = GenerationRequest([ChatTurn("user", "x")], tools=({"type": "function"},))
    async with Upstream(Reply(deltas=["from upstream"])) as up:
        items = await collect(FallbackProvider([scripted, upstream(up.url)]), request)
    assert text(items) == "from upstream"


async def test_the_last_failure_reaches_the_caller() -> None:
    async with (
        Upstream(Reply(status=500)) as first,
        Upstream(Reply(status=401, body=b'{"error": {"message": "bad key"}}')) as second,
    ):
        chain = FallbackProvider([upstream(first.url), upstream(second.url)])
        with pytest.raises(ProviderError) as caught:
            await collect(chain)
    assert caught.value.code == "upstream_rejected"
    assert "bad key" in caught.value.message


async def test_images_only_go_to_providers_that_take_them(llama: LlamaProvider) -> None:
    request = GenerationRequest(
        [ChatTurn("user", "What is this?", ("data:image/png;base64,iVBORw0KGgo=",))]
    )
    async with Upstream(Reply(status=503)) as up:
        chain = FallbackProvider([upstream(up.url), llama])
        assert chain.supports_images
        # The embedded model cannot see images, so the upstream's failure is final.
        with pytest.raises(ProviderError) as caught:
            await collect(chain, request)
    assert caught.value.code == "upstream_unavailable"
    assert llama.tokens_generated == 0


async def test_admits_while_any_provider_has_room() -> None:
    busy = LlamaProvider(model_path=default_model_path(), queue=FairQueue(max_waiting=0))
    also_busy = LlamaProvider(model_path=default_model_path(), queue=FairQueue(max_waiting=0))
    try:
        for provider in (busy, also_busy):
            provider.queue.join()  # the one slot is taken and nobody may wait
        async with Upstream() as up:
            FallbackProvider([busy, upstream(up.url)]).admit()
        chain: list[Provider] = [busy, also_busy]
        with pytest.raises(Unavailable):
            FallbackProvider(chain).admit()
    finally:
        await busy.aclose()
        await also_busy.aclose()
