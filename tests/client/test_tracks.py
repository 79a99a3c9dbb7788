"""A socket's log per message, on literal events: followers that come late or come back
get what the socket already received, each event once."""

from __future__ import annotations

import asyncio

import pytest

from tokenwire.client.errors import ConnectionFailed
from tokenwire.client.tracks import Detour, Subscription, Tracks
from tokenwire.protocol.events import Event, MessageDelta, MessageEnd, MessageStart, Timings, Usage
from tokenwire.protocol.events import UserMessageInfo as User

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def start(mid: str, cmid: str | None = None) -> MessageStart:
    return MessageStart(mid, 0, "c", "u", User("u", "hi", "", cmid), "m", "")


def delta(mid: str, seq: int, text: str = "x") -> MessageDelta:
    return MessageDelta(mid, seq, text)


def end(mid: str, seq: int) -> MessageEnd:
    return MessageEnd(mid, seq, "stop", Usage(0, 0), Timings(None, 1.0))


async def drain(sub: Subscription) -> list[int]:
    seqs = []
    while True:
        try:
            event: Event = await asyncio.wait_for(sub.get(), 0.01)
        except TimeoutError:
            return seqs
        seqs.append(event.seq)


async def test_a_late_follower_reads_the_log_then_live_events() -> None:
    tracks = Tracks()
    for event in (start("m", "c1"), delta("m", 1), delta("m", 2)):
        tracks.add(event)
    track = tracks.get("m")
    assert track is not None
    assert track.covers(-1)
    sub = track.attach(Subscription(1))
    tracks.add(delta("m", 3))
    tracks.add(delta("m", 2))  # a replay: dropped
    assert await drain(sub) == [2, 3]
    assert tracks.by_client_id("c1") is track


async def test_a_track_asked_from_a_seq_covers_only_what_follows_it() -> None:
    tracks = Tracks()
    track = tracks.open("m", 5)
    tracks.add(delta("m", 6))  # the server follows from 5, as asked
    assert track.covers(5)
    assert not track.covers(4)
    assert await drain(track.attach(Subscription(5))) == [6]

    # The server was following already (frames on their way from the start): those up to
    # the floor are dropped, the rest logged.
    track = tracks.open("n", 2)
    for event in (start("n"), delta("n", 1), delta("n", 2), delta("n", 3)):
        tracks.add(event)
    assert await drain(track.attach(Subscription(2))) == [3]


async def test_a_follower_inside_a_merged_delta_must_go_another_way() -> None:
    tracks = Tracks()
    tracks.add(start("m"))
    tracks.add(delta("m", 4, "abcd"))  # 1..4 merged
    track = tracks.get("m")
    assert track is not None
    assert track.covers(0)
    assert not track.covers(2)  # what it has ends inside the merged delta
    assert track.covers(4)
    ahead = track.attach(Subscription(6))  # ahead of the socket: fine until a delta spans it
    tracks.add(delta("m", 8, "efgh"))
    with pytest.raises(Detour):
        await ahead.get()


async def test_frames_that_overlap_the_log_end_the_track() -> None:
    tracks = Tracks()
    tracks.add(start("m"))
    tracks.add(delta("m", 1))
    track = tracks.get("m")
    assert track is not None
    sub = track.attach(Subscription(1))
    tracks.add(start("m"))  # the server follows the reply here again, from its start
    tracks.add(delta("m", 3, "merged 1..3"))
    with pytest.raises(Detour):
        await sub.get()


async def test_a_merged_first_frame_covers_nothing_before_it() -> None:
    tracks = Tracks()
    track = tracks.add(delta("m", 9, "several deltas merged"))
    assert track.covers(9)
    assert not track.covers(8)


async def test_ended_tracks_are_kept_a_while_then_dropped() -> None:
    tracks = Tracks(keep=2)
    for mid in ("a", "b", "c"):
        tracks.add(start(mid))
        tracks.add(end(mid, 1))
    assert tracks.get("a") is None
    late = tracks.get("c")
    assert late is not None
    assert await drain(late.attach(Subscription(-1))) == [0, 1]


async def test_followers_hear_of_a_failed_socket() -> None:
    tracks = Tracks()
    tracks.add(start("m"))
    track = tracks.get("m")
    assert track is not None
    sub = track.attach(Subscription(0))
    assert tracks.followed
    tracks.clear(ConnectionFailed("gone"))
    with pytest.raises(ConnectionFailed):
        await sub.get()
    assert tracks.get("m") is None
    assert not tracks.followed


async def test_a_continued_reply_starts_its_ended_track_anew() -> None:
    # Cut after two deltas: the end took seq 3. Continued, the reply's log holds 0..2 again
    # and the new text takes seq 3 on: the server sends it all again from its start.
    tracks = Tracks()
    for event in (start("m"), delta("m", 1, "a"), delta("m", 2, "b"), end("m", 3)):
        tracks.add(event)
    for event in (start("m"), delta("m", 2, "ab"), delta("m", 3, "c"), delta("m", 4, "d")):
        tracks.add(event)
    track = tracks.get("m")
    assert track is not None
    assert not track.ended
    assert [(type(e).__name__, e.seq) for _, e in track.log] == [
        ("MessageStart", 0),
        ("MessageDelta", 2),
        ("MessageDelta", 3),
        ("MessageDelta", 4),
    ]
    sub = track.attach(Subscription(2))
    tracks.add(end("m", 5))
    assert await drain(sub) == [3, 4, 5]


async def test_a_continue_drops_the_old_end_a_socket_holds() -> None:
    tracks = Tracks()
    for event in (start("m"), delta("m", 1), end("m", 2)):
        tracks.add(event)
    tracks.reopened("m")
    assert tracks.get("m") is None  # the next follower asks the server
    # The new start came first: that track is the continued reply, and stays.
    for event in (start("n"), delta("n", 1), end("n", 2), start("n"), delta("n", 2, "new")):
        tracks.add(event)
    tracks.reopened("n")
    track = tracks.get("n")
    assert track is not None
    assert await drain(track.attach(Subscription(-1))) == [0, 2]
