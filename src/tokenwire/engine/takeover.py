"""Replies whose instance died: found, taken over, and continued or ended.

Every instance on Redis runs a ``Sweeper`` with two loops.

Renewal, every third of ``lease_ttl_s``: extends the leases of this instance's runs. A run
whose lease was lost (this process stalled past the TTL and another instance took the reply
over) stops without writing its end, which is the new owner's to write. A lease that vanished
with nobody else holding it (Redis restarted) is taken back: the run knows what it appended.
A run with a pending cancel (the key ``commands.py`` writes, in case its pub/sub message was
missed) is stopped.

Sweep, every ``sweep_interval_s``: replies still ``streaming`` in the database, run by no
instance here and leased by none, are taken over; one that has no stream either only once it
has been so for two lease TTLs, which gives a live owner time to take its lease back.
Replies younger than one lease TTL are left alone: their row is committed a moment before
their lease is taken. Taking over is ``SET NX`` on the lease (of several sweepers exactly one
wins), then a fresh read of the row (it may have ended meanwhile), then the text so far
rebuilt from the Redis stream, which holds every delta that clients were sent: more than the
last checkpoint, and exactly what they have.

- ``takeover=continue``: a new run goes on from the stream's last seq, its provider asked to
  continue that text (``GenerationRequest.prefix``). Readers blocked on the stream just see
  text arrive again.
- ``takeover=interrupt``, a pending cancel, more than ``max_takeovers`` takeovers of the
  same reply (each continuation ended with its instance gone), or no stream (expired, or
  Redis lost it: then nobody knows which seqs clients saw, so nothing may be added): the
  reply ends now,
  ``interrupted`` (or ``cancelled``), with the text it has. So does a reply whose stream has
  its end but whose row does not (the database failed the owner's last write): the row gets
  the stream's whole text.

Either way no reply stays ``streaming`` while some instance is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol

from tokenwire.engine.cluster import Cluster, Lease
from tokenwire.engine.config import EngineConfig
from tokenwire.engine.run import Run, StopReason
from tokenwire.engine.runs import Runs
from tokenwire.ids import MessageId
from tokenwire.log.base import LogMiss
from tokenwire.protocol.events import Event, MessageDelta, is_terminal
from tokenwire.store.convert import utcnow
from tokenwire.store.records import Conversation, Message
from tokenwire.store.store import Checkpoint, SQLStore

log = logging.getLogger("tokenwire.takeover")


def rebuild(message_id: str, events: Sequence[Event]) -> Checkpoint:
    """The reply so far from its events: text, marks and last seq, exactly as a run keeps them."""
    parts: list[str] = []
    marks: list[tuple[int, int]] = []
    length = 0
    for event in events:
        if isinstance(event, MessageDelta):
            parts.append(event.text)
            length += len(event.text)
            marks.append((event.seq, length))
    return Checkpoint(MessageId(message_id), "".join(parts), tuple(marks), events[-1].seq)


class Launch(Protocol):
    """Start the run of a taken-over reply (``Engine.launch``)."""

    def __call__(
        self,
        conversation: Conversation,
        reply: Message,
        *,
        resume: Checkpoint,
        owner: Lease,
        stop: StopReason | None,
        metadata: dict[str, Any],
    ) -> Run: ...


class Sweeper:
    def __init__(
        self, *, config: EngineConfig, cluster: Cluster, store: SQLStore, runs: Runs, launch: Launch
    ) -> None:
        """``runs``: this process's runs, shared with the engine; ``launch`` starts one."""
        self._config = config
        self._cluster = cluster
        self._store = store
        self._runs = runs
        self._launch = launch
        self._renewer: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._streamless: dict[str, float] = {}  # orphans seen without a stream, since when

    async def start(self) -> None:
        await self._cluster.commands.start(self._cancel_here)
        self._renewer = asyncio.create_task(self._renew_loop(), name="lease renewal")
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="sweeper")

    async def stop_sweeping(self) -> None:
        """Take over nothing more (shutdown); this instance's own leases are still renewed."""
        await _cancel(self._sweeper)
        self._sweeper = None

    async def stop(self) -> None:
        await self.stop_sweeping()
        await _cancel(self._renewer)
        self._renewer = None
        await self._cluster.commands.close()

    def _cancel_here(self, message_id: str) -> None:
        self._runs.stop(message_id, "cancelled")

    # renewal -----------------------------------------------------------------------------

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._config.lease_ttl_s / 3)
            try:
                await self.renew()
            except Exception as exc:
                log.warning("could not renew leases: %s", exc)

    async def renew(self) -> None:
        ids = list(self._runs)
        leases = self._cluster.leases
        for message_id in await leases.renew(ids):
            if message_id not in self._runs:
                continue
            if await leases.acquire(message_id):
                # Nobody holds it (Redis restarted, or it lapsed while this process stalled and
                # no one took the reply over): the run knows what it appended, so it keeps
                # the reply, before a sweeper ends it at its last checkpoint.
                log.warning("the lease of reply %s had vanished; holding it again", message_id)
                continue
            if self._runs.stop(message_id, "interrupted"):
                log.warning("lost the lease of reply %s: another instance runs it", message_id)
        for message_id in await self._cluster.commands.cancelled(ids):
            self._runs.stop(message_id, "cancelled")

    # sweeping ----------------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        failing = False  # an outage is logged once, not every interval
        while True:
            try:
                await self.sweep()
                if failing:
                    log.warning("sweeping again")
                failing = False
            except Exception as exc:
                if not failing:
                    log.warning("sweep failed: %s; retrying every interval", exc)
                failing = True
            await asyncio.sleep(self._config.sweep_interval_s)

    async def sweep(self) -> None:
        """Take over every orphaned reply that no other sweeper gets to first."""
        young = utcnow() - timedelta(seconds=self._config.lease_ttl_s)
        candidates: dict[str, Message] = {
            reply.id: reply
            for reply in await self._store.streaming_messages()
            if reply.id not in self._runs and reply.created_at < young
        }
        unowned = await self._cluster.leases.unowned(list(candidates))
        streamless: dict[str, float] = {}
        now = time.monotonic()
        for message_id in unowned:
            if not await self._has_stream(message_id):
                # Without its stream nobody but its owner knows what clients were sent, and an
                # owner that is alive takes its lease back within a third of the TTL (Redis
                # restarted empty). Only a reply left without both for two TTLs is ended: a
                # busy owner may be late, and ending it too early loses text clients have.
                since = streamless[message_id] = self._streamless.get(message_id, now)
                if now - since < 2 * self._config.lease_ttl_s:
                    continue
            await self.take_over(candidates[message_id])
        self._streamless = streamless

    async def _has_stream(self, message_id: str) -> bool:
        try:
            await self._cluster.log.snapshot(MessageId(message_id))
        except LogMiss:
            return False
        return True

    async def take_over(self, reply: Message) -> bool:
        """Take the reply's lease and continue or end it; ``False`` if someone else has it."""
        leases = self._cluster.leases
        if not await leases.acquire(reply.id):
            return False
        try:
            return await self._take_over(reply)
        except BaseException:
            with contextlib.suppress(Exception):
                await leases.release(reply.id)
            raise

    async def _take_over(self, reply: Message) -> bool:
        current = await self._store.find_message(reply.id)
        if current is None or current.status.is_final or current.id in self._runs:
            await self._cluster.leases.release(reply.id)
            return False
        try:
            events = await self._cluster.log.snapshot(current.id)
        except LogMiss:
            events = []
        stop: StopReason | None = None
        if events and events[-1].seq < current.last_seq:
            # A stream older than the row's checkpoint (Redis restarted from an old file)
            # does not hold what clients were sent: the checkpoint knows more.
            events = []
        if events:
            ended = is_terminal(events[-1])  # its owner could not write the row's end
            state = rebuild(current.id, events[:-1] if ended else events)
            if ended or self._config.takeover == "interrupt":
                stop = "interrupted"
        else:
            # Without the stream only the checkpoint is known, and not which seqs clients saw.
            state = Checkpoint(current.id, current.content, current.marks, current.last_seq)
            stop = "interrupted"
        count = await self._cluster.leases.count_takeover(current.id)
        if stop is None and count > self._config.max_takeovers:
            # Each continuation of this reply so far ended with its instance gone: it may be
            # what takes them down. End it with what it has rather than risk another.
            stop = "interrupted"
        if await self._cluster.commands.cancelled([current.id]):
            stop = "cancelled"
        conversation = await self._store.get_conversation(current.user_id, current.conversation_id)
        log.warning(
            "took over reply %s at seq %d (%d chars): %s",
            current.id,
            state.last_seq,
            len(state.content),
            stop or "continuing",
        )
        self._launch(
            conversation,
            current,
            resume=state,
            owner=Lease(self._cluster.leases, current.id),
            stop=stop,
            metadata={
                "takeover": {
                    "by": self._cluster.instance,
                    "at_seq": state.last_seq,
                    "outcome": stop or "continued",
                    "count": count,
                }
            },
        )
        return True


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
