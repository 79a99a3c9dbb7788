"""Several instances on one Redis: what an engine needs to share its replies with the others.

Without ``TOKENWIRE_REDIS_URL`` there is no cluster: one process owns every reply, and replies
it left streaming when it died are marked interrupted at its next start. With Redis, every
instance is a peer: leases say who runs which reply (``lease.py``), commands reach the owner
(``commands.py``), and the sweeper takes over the replies of an instance that died
(``takeover.py``).
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tokenwire.log.base import EventLog, Fence
from tokenwire.settings import Settings

if TYPE_CHECKING:
    from tokenwire.engine.commands import Commands
    from tokenwire.engine.lease import Leases
    from tokenwire.log.redis import RedisEventLog


@dataclass(frozen=True, slots=True)
class Lease:
    """The lease on one reply, as its run sees it (``run.Ownership``)."""

    leases: Leases
    message_id: str

    @property
    def fence(self) -> Fence:
        """The condition on this run's appends: the lease is still this instance's."""
        return Fence(self.leases.key(self.message_id), self.leases.instance)

    async def holds(self) -> bool:
        return await self.leases.holds(self.message_id)

    async def reclaim(self) -> bool:
        return await self.leases.acquire(self.message_id) or await self.holds()

    async def release(self) -> None:
        await self.leases.release(self.message_id)


@dataclass(frozen=True, slots=True)
class Cluster:
    instance: str  # host:pid:random, so that logs and lease values say which process it is
    log: RedisEventLog
    leases: Leases
    commands: Commands

    async def claim(self, message_id: str) -> Lease:
        """The lease on a reply that was just created (nobody else can hold it yet). Held
        already by this instance: Redis took it and the answer was lost with the connection,
        and the client's retry found it taken."""
        if not await self.leases.acquire(message_id) and not await self.leases.holds(message_id):
            raise RuntimeError(f"the lease on the new reply {message_id} is taken")
        return Lease(self.leases, message_id)


def create_cluster(settings: Settings, events: EventLog) -> Cluster | None:
    """The cluster of this instance when the event log is in Redis, else ``None``."""
    if not settings.redis_url:
        return None
    # Imported here: a single instance on the in-process log needs no Redis client.
    from tokenwire.engine.commands import Commands
    from tokenwire.engine.lease import Leases
    from tokenwire.log.redis import RedisEventLog

    if not isinstance(events, RedisEventLog):
        return None
    instance = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    prefix = settings.redis_prefix
    return Cluster(
        instance=instance,
        log=events,
        leases=Leases(events.redis, prefix=prefix, instance=instance, ttl_s=settings.lease_ttl_s),
        commands=Commands(events.redis, prefix=prefix),
    )
