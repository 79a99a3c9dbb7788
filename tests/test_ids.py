from __future__ import annotations

import uuid

from tokenwire.ids import is_uuid, uuid7


def test_uuid7_is_a_valid_version_7_uuid() -> None:
    value = uuid.UUID(uuid7())
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_uuid7_sorts_in_creation_order() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_is_uuid() -> None:
    assert is_uuid(uuid7())
    assert is_uuid("0190A5E0-0000-7000-8000-000000000000")
    assert not is_uuid("not-a-uuid")
    assert not is_uuid("0190a5e0x0000-7000-8000-000000000000")
    assert not is_uuid("0190a5e0-0000-7000-8000-00000000000g")
