"""JSON from clients, parsed within limits: every request body and client frame comes
through ``decode_json``.

msgspec parses nested arrays and objects recursively, so a document nested deeply enough
(about 1,000 levels, fewer on a deep stack) raises ``RecursionError`` instead of a
``DecodeError``: one such frame would kill a socket, one such body answer 500. No protocol
spoken here nests past a handful of levels, so the depth is checked first, without parsing,
and any failure comes out as a ``msgspec.DecodeError`` that each dialect already turns into
its own error shape.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar, overload

import msgspec

__all__ = ["MAX_BYTES", "MAX_DEPTH", "JSONLimitError", "decode_json", "nesting_depth"]

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted; the deepest wire shape here is under 10."""

MAX_BYTES = 16 * 1024 * 1024
"""Largest JSON text accepted (the WebSocket frame limit; HTTP bodies are held to
``max_body_bytes`` before they get here)."""

T = TypeVar("T")

# A string (skipped whole, whatever brackets it holds) or a bracket. In the part of a text
# that msgspec accepts before it fails, this tokenises exactly as JSON does, so the depth
# counted here is the depth msgspec would recurse to.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENING = frozenset((b"[", b"{"))
_CLOSING = frozenset((b"]", b"}"))


class JSONLimitError(msgspec.DecodeError):
    """A JSON text refused for its size or nesting before it was parsed. ``code`` names
    which: ``too_large`` or ``too_deep``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def nesting_depth(data: str | bytes, *, stop_after: int | None = None) -> int:
    """How deep arrays and objects nest in ``data`` (0 for a scalar). Strings are skipped:
    brackets inside them do not count. With ``stop_after``, counting stops at the first
    level past it (the answer is then ``stop_after + 1``)."""
    text = data.encode() if isinstance(data, str) else data
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in _OPENING:
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_after is not None and deepest > stop_after:
                    break
        elif token in _CLOSING:
            depth -= 1
    return deepest


def _deeper_than(data: str | bytes, limit: int) -> bool:
    # Most texts hold fewer brackets than the limit, and then need no scan at all.
    opened = (
        data.count(b"[") + data.count(b"{")
        if isinstance(data, bytes)
        else (data.count("[") + data.count("{"))
    )
    return opened > limit and nesting_depth(data, stop_after=limit) > limit


@overload
def decode_json(
    data: str | bytes,
    decoder: None = None,
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_BYTES,
) -> Any: ...


@overload
def decode_json(
    data: str | bytes,
    decoder: msgspec.json.Decoder[T],
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_BYTES,
) -> T: ...


def decode_json(
    data: str | bytes,
    decoder: msgspec.json.Decoder[Any] | None = None,
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_BYTES,
) -> Any:
    """Parse ``data`` with ``decoder`` (typed), or to plain Python values without one.

    Raises ``msgspec.DecodeError`` for anything that is not usable: not JSON, the wrong
    shape (``msgspec.ValidationError``), or past a limit (``JSONLimitError``). Never
    ``RecursionError``.
    """
    if len(data) > max_bytes:
        raise JSONLimitError(
            "too_large", f"the JSON text is {len(data)} bytes; the limit is {max_bytes}"
        )
    if _deeper_than(data, max_depth):
        raise JSONLimitError(
            "too_deep", f"the JSON nests deeper than {max_depth} levels of arrays and objects"
        )
    try:
        if decoder is None:
            return msgspec.json.decode(data)
        return decoder.decode(data)
    except RecursionError as exc:  # a deep call stack leaves less room than the limit assumes
        raise JSONLimitError("too_deep", "the JSON nests too deeply to parse") from exc
