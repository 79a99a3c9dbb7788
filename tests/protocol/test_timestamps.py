"""The one timestamp format of the API, the events and the dialects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from tokenwire.protocol.dialects.timestamps import epoch_seconds, iso_ms, utc_now


def test_iso_ms_writes_utc_with_milliseconds() -> None:
    moment = datetime(2026, 1, 29, 10, 0, 0, 123456, tzinfo=UTC)
    assert iso_ms(moment) == "2026-01-29T10:00:00.123Z"
    assert iso_ms(moment.replace(tzinfo=None)) == "2026-01-29T10:00:00.123Z"  # naive is UTC
    east = moment.astimezone(timezone(timedelta(hours=2)))
    assert iso_ms(east) == "2026-01-29T10:00:00.123Z"


def test_now_and_back() -> None:
    now = utc_now()
    assert datetime.fromisoformat(now) - datetime.now(UTC) < timedelta(seconds=60)
    assert iso_ms(datetime.fromisoformat(now)) == now
    assert epoch_seconds("2026-01-29T10:00:00.123Z") == 1769680800
