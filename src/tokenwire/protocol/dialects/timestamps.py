"""Wall-clock timestamps as tokenwire writes them, everywhere: the API's ``created_at``, the
events and every dialect.

Kept apart so that encoders take a clock as a parameter: tests pass a fixed one and get
byte-exact frames.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], str]


def iso_ms(value: datetime) -> str:
    """``2025-01-29T10:00:00.123Z``: ISO 8601 in UTC with milliseconds, which both Swift's
    ``ISO8601DateFormatter`` (with fractional seconds) and JavaScript's ``Date`` parse. A
    naive ``value`` is taken as UTC (SQLite hands stored times back naive)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso_seconds(value: datetime) -> str:
    """``2025-01-29T10:00:00Z``: ISO 8601 in UTC, whole seconds. What Foundation's
    ``JSONDecoder.dateDecodingStrategy = .iso8601`` accepts: its ``ISO8601DateFormatter``
    has no ``.withFractionalSeconds`` and rejects ``10:00:00.123Z`` (seeds 000/001)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_seconds(iso: str) -> str:
    """An ISO 8601 timestamp (``iso_ms``'s, say) as ``iso_seconds`` writes it."""
    return iso_seconds(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def utc_seconds() -> str:
    """Now, as ``iso_seconds`` writes it."""
    return iso_seconds(datetime.now(UTC))


def utc_now() -> str:
    """Now, as ``iso_ms`` writes it."""
    return iso_ms(datetime.now(UTC))


def epoch_seconds(iso: str) -> int:
    """Seconds since the epoch of an ISO 8601 timestamp such as ``MessageStart.created_at``."""
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def fixed(value: str) -> Clock:
    """A clock that always says ``value`` (tests, captured examples)."""
    return lambda: value
