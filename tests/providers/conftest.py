from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import llama_cpp
import pytest

from tokenwire.providers.llama import LlamaProvider, default_model_path
from tokenwire.providers.prompt import PromptBuilder
from tokenwire.providers.queue import FairQueue


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def llama() -> AsyncIterator[LlamaProvider]:
    """The real SmolLM2 model; each test asks for a short reply to stay quick."""
    provider = LlamaProvider(
        model_path=default_model_path(), max_tokens=256, queue=FairQueue(max_waiting=4)
    )
    yield provider
    await provider.aclose()


class Reference:
    """The model's own tokenizer and template, loaded apart from any provider, to check
    what a provider did against."""

    def __init__(self) -> None:
        self.llama: Any = llama_cpp.Llama(
            model_path=str(default_model_path()), vocab_only=True, verbose=False
        )

    def tokens(self, text: str) -> list[int]:
        return list(self.llama.tokenize(text.encode(), add_bos=False, special=True))

    def text(self, tokens: list[int]) -> str:
        return bytes(self.llama.detokenize(tokens, special=True)).decode()

    def builder(self, n_ctx: int) -> PromptBuilder:
        return PromptBuilder(
            template=self.llama.metadata["tokenizer.chat_template"],
            bos_token="<|im_start|>",
            eos_token="<|im_end|>",
            tokenize=self.tokens,
            n_ctx=n_ctx,
        )


@pytest.fixture(scope="session")
def reference() -> Iterator[Reference]:
    ref = Reference()
    yield ref
    ref.llama.close()


async def eventually(condition: Callable[[], bool], seconds: float = 120.0) -> None:
    """Wait until ``condition()`` holds, checking every few milliseconds. The deadline is by
    the clock and generous: on a machine busy with other work the model is slow to come."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds} s")
        await asyncio.sleep(0.005)
