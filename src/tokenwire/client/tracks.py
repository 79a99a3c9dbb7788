"""What one WebSocket has received, per message: the log its followers read from.

The server sends each reply once per socket and ignores a ``stream.resume`` at or below
what it has already sent there, since those frames are on their way (``api/ws.py``). So a
socket's frames must all be kept, whoever follows them: a reader that comes later, or
comes back after letting go, starts from this log rather than from the server.

A frame covers the seqs after the frame before it, up to its own: a delta merged from
several carries the last seq it covers (docs/ARCHITECTURE.md). A follower can take the log
only from a point where a frame ends; where a merged delta spans its point, the text the
follower has and the delta's text overlap by an unknown length, so it must be served from
its exact point elsewhere (``Detour``).

A reply that ended can go on (continue): its log is reopened on the server before the old
end, and the new events take the seqs from the old end's on. What a socket logged of it
then holds an end the reply no longer has. The server follows a continued reply on every
socket of the conversation afresh from its ``message.start``; that start, arriving on an
ended track, begins the track anew. A follower that comes before that start would still
find the old end, so whoever continues a reply says so (``Tracks.reopened``) first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from tokenwire.client.errors import ClientError, ConnectionFailed
from tokenwire.protocol.events import Event, MessageDelta, MessageStart, is_terminal


class Detour(ConnectionFailed):
    """This socket cannot serve a follower from its point: follow that reply another way
    (another transport, or a fresh socket) for a while."""


class Subscription:
    """One follower of one message: receives the events after ``after``, then the error
    that ends them if the socket fails."""

    def __init__(self, after: int) -> None:
        self.after = after
        self._queue: asyncio.Queue[Event | ClientError] = asyncio.Queue()
        self._failed = False

    def offer(self, start: int, event: Event) -> None:
        """``event`` covers the seqs after ``start`` up to its own."""
        if self._failed or event.seq <= self.after:
            return
        if isinstance(event, MessageDelta) and start != self.after:
            self.fail(Detour(f"a delta spans seq {self.after} on this socket"))
            return
        self.after = event.seq
        self._queue.put_nowait(event)

    def fail(self, error: ClientError) -> None:
        if not self._failed:
            self._failed = True
            self._queue.put_nowait(error)

    async def get(self) -> Event:
        item = await self._queue.get()
        if isinstance(item, ClientError):
            raise item
        return item


class Track:
    """One message's frames on one socket, in seq order without repeats, from ``floor``."""

    def __init__(self, floor: int) -> None:
        self.floor = floor
        self.last = floor  # the last seq logged
        self.wire = floor  # the last seq received, logged or not
        self.client_message_id: str | None = None
        self.log: list[tuple[int, Event]] = []  # (the seq it covers from, event)
        self.subs: list[Subscription] = []
        self.ended = False

    def restart(self) -> None:
        """Forget what is logged: the server sends the reply again from its start, and
        what it sends now is the reply (continued past its old end, or the same)."""
        self.floor = self.last = self.wire = -1
        self.log = []
        self.ended = False

    def add(self, event: Event) -> bool:
        """Log ``event``; False when it cannot be (a delta overlapping the log)."""
        start = -1 if isinstance(event, MessageStart) else self.wire
        self.wire = event.seq
        if event.seq <= self.last:
            return True  # a replay of what is logged already
        if isinstance(event, MessageDelta) and start != self.last:
            return False
        before, self.last = self.last, event.seq
        self.log.append((before, event))
        self.ended = is_terminal(event)
        for sub in self.subs:
            sub.offer(before, event)
        return True

    def covers(self, after: int) -> bool:
        """Whether a follower that has everything up to ``after`` can start here."""
        if after < self.floor:
            return False
        return after >= self.last or after == self.floor or any(e.seq == after for _, e in self.log)

    def attach(self, sub: Subscription) -> Subscription:
        """Give ``sub`` what is logged past its ``after``, then what comes."""
        for start, event in self.log:
            sub.offer(start, event)
        self.subs.append(sub)
        return sub


class Tracks:
    """The tracks of one socket. Ended tracks nobody follows are kept a while (``keep``
    of them), for a follower that comes back just after the end."""

    def __init__(self, keep: int = 16) -> None:
        self._tracks: dict[str, Track] = {}
        self._ended: deque[str] = deque()
        self._keep = keep

    def get(self, message_id: str) -> Track | None:
        return self._tracks.get(message_id)

    def by_client_id(self, client_message_id: str) -> Track | None:
        for track in self._tracks.values():
            if track.client_message_id == client_message_id:
                return track
        return None

    def open(self, message_id: str, after: int) -> Track:
        """The track of a message this socket is asked to follow from ``after``."""
        track = self._tracks[message_id] = Track(after)
        return track

    def add(self, event: Event) -> Track:
        track = self._tracks.get(event.message_id)
        if track is None:
            # Not asked for: a reply that started in the conversation, followed from its
            # start. Anything else could be a merged delta whose beginning is unknown.
            floor = -1 if isinstance(event, MessageStart) else event.seq
            track = self._tracks[event.message_id] = Track(floor)
        if isinstance(event, MessageStart):
            track.client_message_id = event.user_message.client_message_id
            if track.ended:
                # The reply starts again after its end: it was continued (its old end is
                # gone, and the new events reuse that seq), or it is sent once more.
                track.restart()
                with contextlib.suppress(ValueError):
                    self._ended.remove(event.message_id)
        if not track.add(event):
            # The server followed the reply here afresh (it does so once a follow has
            # ended): this log cannot go on, its followers go another way.
            self.fail(event.message_id, Detour("the socket's frames overlap its log"))
            return self.add(event)
        self._retire(event.message_id, track)
        return track

    def reopened(self, message_id: str) -> None:
        """``message_id`` was continued: what this socket logged of it up to its old end no
        longer holds. A track whose new start has arrived already is kept (it is no longer
        ended); an ended one goes, so the next follower asks the server again."""
        track = self._tracks.get(message_id)
        if track is not None and track.ended:
            self.fail(message_id, Detour(f"{message_id} goes on past the end logged here"))
            with contextlib.suppress(ValueError):
                self._ended.remove(message_id)

    def unsubscribe(self, sub: Subscription) -> None:
        for message_id, track in list(self._tracks.items()):
            if sub in track.subs:
                track.subs.remove(sub)
                self._retire(message_id, track)

    def fail(self, message_id: str, error: ClientError) -> None:
        """The server could not follow ``message_id`` here: its followers get ``error``."""
        track = self._tracks.pop(message_id, None)
        for sub in track.subs if track else ():
            sub.fail(error)

    def clear(self, error: ClientError) -> None:
        """The socket is gone: every follower gets ``error``, and nothing is kept."""
        for message_id in list(self._tracks):
            self.fail(message_id, error)
        self._ended.clear()

    @property
    def followed(self) -> bool:
        return any(track.subs for track in self._tracks.values())

    def _retire(self, message_id: str, track: Track) -> None:
        if not track.ended or track.subs or message_id in self._ended:
            return
        self._ended.append(message_id)
        while len(self._ended) > self._keep:
            oldest = self._ended.popleft()
            if (old := self._tracks.get(oldest)) is not None and not old.subs:
                del self._tracks[oldest]
