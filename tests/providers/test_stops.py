"""Stop sequences: the reply ends where one begins, and none of it is emitted."""

from __future__ import annotations

from tokenwire.providers.stops import StopScanner


def run(stops: list[str], pieces: list[str]) -> tuple[str, bool]:
    scanner = StopScanner(stops)
    out = [scanner.feed(p) for p in pieces]
    out.append(scanner.flush())
    return "".join(out), scanner.stopped


def test_text_before_the_stop_is_emitted_and_the_stop_is_not() -> None:
    assert run(["END"], ["Hello ", "world", "END", "more"]) == ("Hello world", True)


def test_a_stop_split_across_pieces_is_caught() -> None:
    scanner = StopScanner(["\n\n"])
    assert scanner.feed("one\n") == "one"  # the newline might start the stop: held
    assert scanner.feed("\ntwo") == ""
    assert scanner.stopped


def test_held_text_that_turns_out_not_to_be_a_stop_is_released() -> None:
    scanner = StopScanner(["STOP"])
    assert scanner.feed("a ST") == "a "
    assert scanner.feed("AR") == "STAR"
    assert not scanner.stopped


def test_a_reply_that_ends_with_a_partial_stop_keeps_it() -> None:
    assert run(["abc"], ["xx", "ab"]) == ("xxab", False)


def test_the_earliest_of_several_stops_wins() -> None:
    assert run(["world", "lo"], ["hello world"]) == ("hel", True)


def test_no_stops_passes_everything_at_once() -> None:
    scanner = StopScanner([])
    assert scanner.feed("a") == "a"
    assert scanner.flush() == ""
