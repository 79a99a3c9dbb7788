"""What a run tells its clients at the end, given what saving its end found."""

from __future__ import annotations

from tests.engine.test_replay import reply
from tokenwire.engine.ending import ending
from tokenwire.protocol.events import ErrorInfo, MessageEnd, MessageError, Timings, Usage
from tokenwire.store.records import MessageStatus

OWN = MessageEnd("m", 9, "stop", Usage(3, 8), Timings(5.0, 90.0, None))


def test_the_runs_own_end_when_the_row_took_it() -> None:
    told = ending(OWN, MessageStatus.COMPLETE, None, (True, reply()))
    assert told.terminal == OWN
    assert (told.status, told.error_code) == ("complete", None)


def test_the_stored_end_when_the_row_had_ended_elsewhere() -> None:
    elsewhere = reply(
        status=MessageStatus.INTERRUPTED,
        error=ErrorInfo("interrupted", "the server stopped", True),
        last_seq=4,
    )
    told = ending(OWN, MessageStatus.COMPLETE, None, (False, elsewhere))
    # The stored end, at the log's next seq (the run's), never the run's own "stop".
    assert told.terminal == MessageError(
        "m", 9, ErrorInfo("interrupted", "the server stopped", True)
    )
    assert (told.status, told.error_code) == ("interrupted", "interrupted")
    cancelled = reply(status=MessageStatus.CANCELLED, finish_reason="cancelled")
    told = ending(OWN, MessageStatus.COMPLETE, None, (False, cancelled))
    assert isinstance(told.terminal, MessageEnd)
    assert (told.terminal.seq, told.terminal.finish_reason) == (9, "cancelled")


def test_a_deleted_row_and_an_unsaved_end_are_said_as_such() -> None:
    gone = ending(OWN, MessageStatus.COMPLETE, None, (False, None))
    assert gone.terminal == MessageError(
        "m", 9, ErrorInfo("not_found", "the reply was deleted while it streamed", False)
    )
    unsaved = ending(OWN, MessageStatus.COMPLETE, None, None)
    assert unsaved.terminal == MessageError(
        "m", 9, ErrorInfo("interrupted", "the end of the reply could not be saved", True)
    )
    assert unsaved.status == "interrupted"
