"""A request's sampling settings, as llama.cpp takes them, and the log probabilities it
reports.

``logit_bias`` and ``logprobs`` both need the raw logits of each step: one logits processor
adds the biases, then (when asked) keeps the log-softmax of the biased logits, from which
the sampled token's log probability and the ``top_logprobs`` best are read once the token
is known. The processor runs first in llama.cpp's sampler chain, so what it sees is the
model's distribution before penalties, grammar and truncation, as OpenAI reports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from tokenwire.errors import BadRequest
from tokenwire.protocol.options import Sampling
from tokenwire.providers.base import TokenLogprob, TopLogprob

__all__ = ["StepRecorder", "generate_kwargs"]

# SmolLM2's recommended sampling, where a request leaves a setting to the provider.
DEFAULT_TEMPERATURE = 0.2
DEFAULT_TOP_P = 0.9
REPEAT_PENALTY = 1.1


class StepRecorder:
    """The logits processor of one reply: adds ``logit_bias``, records log probabilities."""

    def __init__(self, llama: Any, sampling: Sampling) -> None:
        self._llama = llama
        n_vocab = int(llama.n_vocab())
        self._bias: list[tuple[int, float]] = []
        for key, value in (sampling.logit_bias or {}).items():
            token = int(key)
            if not 0 <= token < n_vocab:
                raise BadRequest(
                    f"logit_bias: token {key} is not in the model's vocabulary (0..{n_vocab - 1})",
                    code="invalid_value",
                    param="logit_bias",
                )
            self._bias.append((token, float(value)))
        self._record = sampling.logprobs
        self._top = sampling.top_logprobs or 0
        self._last: npt.NDArray[np.float32] | None = None

    @property
    def needed(self) -> bool:
        return bool(self._bias) or self._record

    def __call__(
        self, _input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        for token, bias in self._bias:
            scores[token] += bias
        if self._record:
            self._last = np.asarray(self._llama.logits_to_logprobs(scores), dtype=np.float32)
        return scores

    def _entry(self, token: int, logprob: float) -> tuple[str, float, tuple[int, ...]]:
        raw = bytes(self._llama.detokenize([token], special=True))
        return raw.decode("utf-8", errors="replace"), logprob, tuple(raw)

    def take(self, token: int) -> TokenLogprob | None:
        """The log probability of the token just sampled, when the request asked for it."""
        if not self._record or self._last is None:
            return None
        logprobs, self._last = self._last, None
        text, value, raw = self._entry(token, float(logprobs[token]))
        top: list[TopLogprob] = []
        if self._top:
            best = np.argpartition(logprobs, -self._top)[-self._top :]
            for index in sorted(best, key=lambda i: -float(logprobs[i])):
                t, v, b = self._entry(int(index), float(logprobs[index]))
                top.append(TopLogprob(t, v, b))
        return TokenLogprob(text, value, raw, tuple(top))


def generate_kwargs(sampling: Sampling, default_temperature: float | None) -> dict[str, Any]:
    """``Llama.generate`` keyword arguments for a request's sampling settings."""
    temperature = sampling.temperature
    if temperature is None:
        temperature = DEFAULT_TEMPERATURE if default_temperature is None else default_temperature
    return {
        "temp": temperature,
        "top_p": DEFAULT_TOP_P if sampling.top_p is None else sampling.top_p,
        "repeat_penalty": REPEAT_PENALTY,
        "presence_penalty": sampling.presence_penalty or 0.0,
        "frequency_penalty": sampling.frequency_penalty or 0.0,
    }
