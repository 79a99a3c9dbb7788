"""The checkpointer: every interval, what each running reply added since its last checkpoint
goes to the store in one transaction.

A client that reconnects after the log has dropped a reply reads its text from the row, so
the row is at most one interval behind the reply (``checkpoint_interval_s``, at most a
second). Each checkpoint appends only what is new (``Run.take_checkpoint``): a long reply
costs no more per interval than a short one.
"""

from __future__ import annotations

import asyncio
import logging

from tokenwire.engine.runs import Runs
from tokenwire.errors import Unavailable
from tokenwire.store.store import SQLStore

log = logging.getLogger("tokenwire.engine")


class Checkpointer:
    def __init__(self, *, runs: Runs, store: SQLStore, interval_s: float) -> None:
        self._runs = runs
        self._store = store
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="checkpointer")

    async def stop(self) -> None:
        """Stop the loop, then write what the runs added since its last pass."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.flush()

    async def flush(self) -> None:
        taken = [
            (run, c)
            for run in list(self._runs.values())
            if (c := run.take_checkpoint()) is not None
        ]
        try:
            await self._store.checkpoint([c for _, c in taken])
        except BaseException:
            # One transaction: nothing was written, so each run's next checkpoint is whole.
            for run, _ in taken:
                run.checkpoint_failed()
            raise

    async def _loop(self) -> None:
        outage = False  # a database outage is logged once, not every interval
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.flush()
                outage = False
            except Unavailable as exc:
                if not outage:
                    log.warning("checkpoints wait for the database: %s", exc)
                outage = True
            except Exception:
                log.exception("checkpoint failed; retrying at the next interval")
