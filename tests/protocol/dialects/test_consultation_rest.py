"""The consultation REST bodies of the seeds' iOS app, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from tests.protocol.dialects.events import CID, MID, UID, stored
from tokenwire.errors import NotFound
from tokenwire.protocol.dialects import consultation_rest as rest
from tokenwire.protocol.dialects.timestamps import iso_seconds, to_seconds
from tokenwire.protocol.resources import Window

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


VIEW = rest.ConsultationView(
    id="c1",
    user_id="u1",
    persona="coach",
    status="active",
    goal_id="g1",
    created_at=datetime(2025, 1, 29, 10, 0, 0, 987_000, tzinfo=UTC),
    updated_at=datetime(2025, 1, 29, 10, 0, 5, tzinfo=UTC),
    message_count=2,
)


def test_the_apps_shape_lists_a_window_and_counts_them_all() -> None:
    app = rest.shape(None)
    body = msgspec.json.encode(app.many([VIEW], 3, Window.of(1, 2)))
    assert body == (
        b'{"data":{"consultations":[{"id":"c1","user_id":"u1","persona":"coach",'
        b'"status":"active","message_count":2,"created_at":"2025-01-29T10:00:00Z",'
        b'"updated_at":"2025-01-29T10:00:05Z","started_at":"2025-01-29T10:00:00Z",'
        b'"goal_id":"g1"}],"total_count":3,"limit":1,"offset":2}}'
    )
    history = app.history("c1", stored(), window=Window.of(1, 0), next_before=None)
    assert msgspec.json.encode(history) == (
        b'{"data":{"messages":[{"id":"%s","consultation_id":"%s","role":"user",'
        b'"content":"Hello","created_at":"2025-01-29T10:00:00Z"}],"total":2,"has_more":true}}'
        % (UID.encode(), CID.encode())
    )


def test_the_bare_shape_is_tokenwires_earlier_objects() -> None:
    bare = rest.shape("tokenwire-shape=bare")
    assert msgspec.json.encode(bare.one(VIEW)) == (
        b'{"id":"c1","persona":"coach","goal_id":"g1","status":"active",'
        b'"created_at":"2025-01-29T10:00:00.987Z","updated_at":"2025-01-29T10:00:05.000Z"}'
    )
    asked, answered = stored()
    assert msgspec.json.encode(bare.sent(asked, answered)) == (
        b'{"user_message":{"id":"%s","consultation_id":"%s","role":"user","content":"Hello",'
        b'"created_at":"2025-01-29T10:00:00.000Z","status":"complete"},'
        b'"message":{"id":"%s","consultation_id":"%s","role":"assistant",'
        b'"content":"Hi there","created_at":"2025-01-29T10:00:01.250Z","status":"complete"}}'
        % (UID.encode(), CID.encode(), MID.encode(), CID.encode())
    )


def test_a_window_holds_its_limit_and_offset_to_their_ranges() -> None:
    assert Window.of(0, -5) == Window(1, 0)
    assert Window.of(10_000, 3) == Window(500, 3)
    assert Window.of(2, 1).cut("abcd") == ["b", "c"]
    assert Window.of(2, 1).more(4)
    assert not Window.of(2, 2).more(4)


def test_a_refusal_carries_the_errors_own_code() -> None:
    refused = NotFound("consultation x not found")
    assert rest.refusal(refused) == (
        b'{"success":false,"error":{"code":"not_found","message":"consultation x not found"}}'
    )
