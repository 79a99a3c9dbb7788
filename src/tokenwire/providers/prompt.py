"""Chat turns to prompt tokens for a local model: its own chat template, its own tokenizer.

The template is the one in the GGUF (``tokenizer.chat_template``), rendered the way
Hugging Face renders it. History that does not fit the context window is dropped from the
oldest end, keeping the system prompt and the newest turns, with room left for the reply.
A partial reply being continued (``prefix``) is appended after the generation prompt, as
the start of the assistant turn.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from tokenwire.errors import ProviderError
from tokenwire.providers.base import ChatTurn, ToolCall

__all__ = ["CHATML", "PromptBuilder", "PromptTokens", "prompt_turns"]

# For a GGUF that carries no template: ChatML, the most common convention.
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Below this many tokens of room for the reply, trimming history further is not worth it.
_MIN_REPLY_TOKENS = 16

Tokenize = Callable[[str], list[int]]


@dataclass(frozen=True, slots=True)
class PromptTokens:
    tokens: list[int]
    max_new_tokens: int  # room left for the reply, at most what was asked for
    dropped_turns: int  # history turns left out to fit the context window


def prompt_turns(turns: Sequence[ChatTurn], instruction: str | None = None) -> list[ChatTurn]:
    """Turns as a plain chat template takes them: the calls of an assistant turn written as
    the JSON array the model is asked to produce, a tool result as a ``tool`` turn naming its
    call, and ``instruction`` (the output format) added to the system prompt."""
    out: list[ChatTurn] = []
    for turn in turns:
        if turn.tool_calls:
            calls = json.dumps(
                [{"name": c.name, "arguments": _arguments(c)} for c in turn.tool_calls]
            )
            out.append(ChatTurn("assistant", f"{turn.content}\n{calls}" if turn.content else calls))
        elif turn.role == "tool":
            out.append(ChatTurn("tool", f"[{turn.tool_call_id}] {turn.content}"))
        else:
            out.append(turn)
    if instruction:
        if out and out[0].role == "system":
            out[0] = replace(out[0], content=f"{out[0].content}\n\n{instruction}")
        else:
            out.insert(0, ChatTurn("system", instruction))
    return out


def _arguments(call: ToolCall) -> object:
    try:
        return json.loads(call.arguments or "{}")
    except ValueError:
        return call.arguments  # as the model wrote it, when that was not JSON


class PromptBuilder:
    """Renders turns with a chat template and fits them into ``n_ctx`` tokens."""

    def __init__(
        self, *, template: str, bos_token: str, eos_token: str, tokenize: Tokenize, n_ctx: int
    ) -> None:
        self._formatter = Jinja2ChatFormatter(
            template=template, eos_token=eos_token, bos_token=bos_token
        )
        self._tokenize = tokenize
        self._n_ctx = n_ctx
        # Tokens the template adds around one turn (role markers, newlines). Used only to
        # choose which turns to try; the rendered prompt is always measured exactly.
        one = len(tokenize(self.render([ChatTurn("user", "")])))
        two = len(tokenize(self.render([ChatTurn("user", ""), ChatTurn("assistant", "")])))
        self._turn_overhead = max(1, two - one)

    def render(self, turns: Sequence[ChatTurn], prefix: str = "") -> str:
        """The prompt text: the turns, the generation prompt, then the partial reply."""
        messages = [{"role": t.role, "content": t.content} for t in turns]
        response = self._formatter(messages=messages)  # type: ignore[arg-type]
        return str(response.prompt) + prefix

    def build(
        self, turns: Sequence[ChatTurn], *, max_tokens: int, prefix: str = ""
    ) -> PromptTokens:
        """The prompt tokens for ``turns``, trimmed to leave room for ``max_tokens``.

        Keeps every system turn and the newest turns; raises ``ProviderError`` when even the
        system prompt and the last turn leave no room for a reply.
        """
        system = [t for t in turns if t.role == "system"]
        history = [t for t in turns if t.role != "system"]
        budget = self._n_ctx - max_tokens
        keep = self._estimate_keep(system, history, budget)
        while True:
            # A history that starts with a reply has lost its question: drop the reply too.
            while keep > 1 and history[len(history) - keep].role == "assistant":
                keep -= 1
            kept = history[len(history) - keep :] if keep else []
            tokens = self._tokenize(self.render([*system, *kept], prefix))
            room = self._n_ctx - len(tokens)
            if room >= max_tokens or (keep <= 1 and room >= _MIN_REPLY_TOKENS):
                return PromptTokens(tokens, min(max_tokens, room), len(history) - keep)
            if keep <= 1:
                raise ProviderError(
                    f"the message is too long for the model: the prompt takes {len(tokens)} "
                    f"of the {self._n_ctx} tokens of its context window",
                    code="context_length_exceeded",
                    retryable=False,
                )
            keep -= 1

    def _estimate_keep(self, system: list[ChatTurn], history: list[ChatTurn], budget: int) -> int:
        """How many of the newest turns probably fit in ``budget`` tokens (at least one)."""
        used = sum(len(self._tokenize(t.content)) + self._turn_overhead for t in system)
        keep = 0
        for turn in reversed(history):
            used += len(self._tokenize(turn.content)) + self._turn_overhead
            if used > budget and keep >= 1:
                break
            keep += 1
        return keep
