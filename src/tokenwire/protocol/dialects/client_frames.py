"""Decoding JSON client frames into tagged Structs, with errors that say what is wrong."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

import msgspec

from tokenwire.protocol.frames import FrameError

T = TypeVar("T")


def decode_frame(data: str | bytes, decoder: msgspec.json.Decoder[T], known: Collection[str]) -> T:
    """Parse one frame with ``decoder`` (a tagged union over ``type``), or raise
    ``FrameError``: ``invalid_json``, ``invalid_frame`` or ``unknown_type``."""
    try:
        raw: Any = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise FrameError("invalid_json", f"frame is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise FrameError("invalid_frame", "a frame must be a JSON object")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise FrameError("invalid_frame", "a frame needs a string 'type'")
    if kind not in known:
        expected = ", ".join(sorted(known))
        raise FrameError("unknown_type", f"unknown frame type {kind!r}; expected one of {expected}")
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise FrameError("invalid_frame", f"{kind}: {exc}") from exc
