"""The text form of appended marks, byte for byte."""

from __future__ import annotations

from tokenwire.store import marks


def test_encode() -> None:
    assert marks.encode([(3, 10), (4, 12)]) == "3,10;4,12;"
    assert marks.encode([]) == ""


def test_decode_is_the_inverse() -> None:
    assert marks.decode("3,10;4,12;") == [(3, 10), (4, 12)]
    assert marks.decode("") == []


def test_merged_puts_the_appended_after_the_whole() -> None:
    assert marks.merged([[1, 3]], "2,5;") == ((1, 3), (2, 5))
    assert marks.merged(None, "") == ()
    assert marks.merged([[1, 3]], None) == ((1, 3),)
