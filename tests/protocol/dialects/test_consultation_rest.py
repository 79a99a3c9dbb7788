"""The consultation REST bodies of the seeds' iOS app, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from tokenwire.protocol.dialects import consultation_rest as rest
from tokenwire.protocol.dialects.timestamps import iso_seconds, to_seconds

C = rest.AppConsultation(
    id="c1",
    user_id="u1",
    persona="coach",
    status="active",
    message_count=2,
    created_at="2025-01-29T10:00:00Z",
    updated_at="2025-01-29T10:00:05Z",
    started_at="2025-01-29T10:00:00Z",
)


def test_a_consultation_leaves_out_what_is_unknown() -> None:
    assert msgspec.json.encode(C) == (
        b'{"id":"c1","user_id":"u1","persona":"coach","status":"active","message_count":2,'
        b'"created_at":"2025-01-29T10:00:00Z","updated_at":"2025-01-29T10:00:05Z",'
        b'"started_at":"2025-01-29T10:00:00Z"}'
    )


def test_the_409_names_the_existing_consultation() -> None:
    body = msgspec.json.encode(rest.conflict(C, "an active consultation with coach exists"))
    assert body == (
        b'{"success":false,"error":{"code":"consultation_exists",'
        b'"message":"an active consultation with coach exists","details":'
        b'{"existing_consultation_id":"c1","persona":"coach","status":"active",'
        b'"can_continue":true}}}'
    )


def test_errors_are_the_apps_backend_error() -> None:
    assert rest.error("not_found", "consultation x not found") == (
        b'{"success":false,"error":{"code":"not_found","message":"consultation x not found"}}'
    )


def test_the_bare_shape_is_asked_for_with_prefer() -> None:
    assert rest.wants_bare("tokenwire-shape=bare")
    assert rest.wants_bare("respond-async, Tokenwire-Shape=bare")
    assert not rest.wants_bare(None)
    assert not rest.wants_bare("return=minimal")


def test_dates_are_whole_seconds() -> None:
    moment = datetime(2025, 1, 29, 10, 0, 0, 987_000, tzinfo=UTC)
    assert iso_seconds(moment) == "2025-01-29T10:00:00Z"
    assert iso_seconds(moment.replace(tzinfo=None)) == "2025-01-29T10:00:00Z"  # SQLite's naive
    assert to_seconds("2025-01-29T10:00:00.987Z") == "2025-01-29T10:00:00Z"
