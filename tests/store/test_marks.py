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


def test_marks_decode_when_first_used_from_text_or_decoded_json() -> None:
    from_text = marks.Marks("[[1, 3], [2, 5]]", "3,9;")
    assert repr(from_text) == "Marks(((1, 3), (2, 5), (3, 9)))"
    assert from_text == ((1, 3), (2, 5), (3, 9))
    assert from_text == [[1, 3], [2, 5], [3, 9]]
    assert from_text[-1] == (3, 9)
    assert from_text[:1] == ((1, 3),)
    assert len(from_text) == 3
    assert list(from_text) == [(1, 3), (2, 5), (3, 9)]
    from_rows = marks.Marks([[1, 3], [2, 5]], "3,9;")
    assert from_rows == from_text
    assert hash(from_rows) == hash(from_text)
    assert marks.Marks(None, None) == ()
    assert marks.Marks("null", "") == ()
    assert not marks.Marks("[]", None)
    assert marks.Marks("[[1, 3]]", None) != ((1, 4),)
    assert marks.Marks("[[1, 3]]", None) != "1,3;"
