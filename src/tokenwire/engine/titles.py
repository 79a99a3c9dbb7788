"""Conversation titles written by the model: a few plain words, after the first reply.

A conversation with no title gets one once a reply in it completes: the model is asked
for a short title for the user's first message (unless replies are running or waiting for
it: then the message's first words are the title), and what it writes is made plain text
(Markdown, quotes and a "Title:" label taken off) and short. A title the user set is never
replaced: the store writes a title only where there is none.
"""

from __future__ import annotations

import asyncio
import logging
import re

from tokenwire.protocol.options import Sampling
from tokenwire.providers.base import ChatTurn, Delta, GenerationRequest, Provider

log = logging.getLogger("tokenwire.titles")

INSTRUCTION = (
    "Write a short title, at most six words, for a conversation that starts with the "
    "user's message below. Answer with the title only: no quotes, no Markdown."
)
MAX_WORDS = 8
MAX_CHARS = 80
TIMEOUT_S = 60.0

_FENCE = re.compile(r"```[^\n]*\n?|```")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_AUTOLINK = re.compile(r"<(https?://[^>]+)>")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_LINE_MARK = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~|`+)")
_LABEL = re.compile(r"^\s*title\s*:\s*", re.IGNORECASE)
_QUOTES = "\"'“”‘’«»"


def plain_title(text: str) -> str | None:
    """``text`` as a title: plain words, no Markdown, at most ``MAX_WORDS`` words."""
    text = _FENCE.sub(" ", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAG.sub(" ", text)
    text = _LINE_MARK.sub("", text)
    text = _EMPHASIS.sub("", text)
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = _LABEL.sub("", line).strip().strip(_QUOTES).strip()
    words = line.split()[:MAX_WORDS]
    title = " ".join(words)[:MAX_CHARS].rstrip(" .,:;!-")
    return title or None


def busy(provider: Provider) -> bool:
    """Whether the model has replies running or waiting (a local model's line): a title is
    worth less than any of them."""
    first = getattr(provider, "providers", [provider])[0]
    queue = getattr(first, "queue", None)
    return bool(queue is not None and (queue.running or queue.waiting))


async def write_title(provider: Provider, first_message: str) -> str | None:
    """The model's title for a conversation that starts with ``first_message``; its first
    words, made plain, while the model is busy with replies."""
    if busy(provider):
        return plain_title(first_message)
    request = GenerationRequest(
        messages=[ChatTurn("system", INSTRUCTION), ChatTurn("user", first_message)],
        sampling=Sampling(max_tokens=24, temperature=0.2),
    )
    parts: list[str] = []
    async with asyncio.timeout(TIMEOUT_S):
        async for item in provider.stream(request):
            if isinstance(item, Delta):
                parts.append(item.text)
    return plain_title("".join(parts)) or plain_title(first_message)
