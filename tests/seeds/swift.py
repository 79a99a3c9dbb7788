"""What Swift's ``JSONDecoder`` does with the seeds' ``Codable`` types, in Python.

``Decodable`` ignores keys a type does not declare, fails on a declared key that is missing
(unless optional), ``null`` for a non-optional, or a value of the wrong JSON type (an
``Int`` is not a string, a ``String`` not a number). msgspec's strict decoding of a Struct
does the same. Dates are where Foundation is narrow: ``dateDecodingStrategy = .iso8601``
uses an ``ISO8601DateFormatter`` with ``.withInternetDateTime`` and no
``.withFractionalSeconds``, so ``2025-01-29T10:00:00Z`` and ``...+01:00`` decode and
``2025-01-29T10:00:00.123Z`` throws ``dataCorrupted`` ("Expected date string to be
ISO8601-formatted"). ``SwiftDate`` is that check, applied in ``__post_init__`` of the
Structs that declare a ``Date``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

# internet date-time without fractional seconds: yyyy-MM-dd'T'HH:mm:ss then Z or ±hh:mm
_ISO8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})")


class DecodingError(Exception):
    """Swift's ``DecodingError``: the app would catch it and log "Failed to decode"."""


def iso8601_date(value: str) -> datetime:
    """``ISO8601DateFormatter().date(from:)`` with its default options; raises
    ``ValueError`` where the formatter returns nil (the decoder then throws)."""
    if not _ISO8601.fullmatch(value):
        raise ValueError(f"Expected date string to be ISO8601-formatted: {value!r}")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def check_dates(*values: str | None) -> None:
    for value in values:
        if value is not None:
            iso8601_date(value)


def decode(data: bytes | str, type_: type[T]) -> T:
    """``try JSONDecoder().decode(T.self, from: data)``."""
    try:
        return msgspec.json.decode(data, type=type_, strict=True)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise DecodingError(str(exc)) from exc


def uuid_string(value: str) -> str:
    """``UUID(uuidString:)!.uuidString``: Swift writes UUIDs in upper case."""
    import uuid

    return str(uuid.UUID(value)).upper()


def as_json(value: Any) -> bytes:
    return msgspec.json.encode(value)
