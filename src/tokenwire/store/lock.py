"""One server per SQLite database: an exclusive lock next to the database file.

Two servers on one SQLite file (without Redis) each believe they are alone: each takes the
other's streaming replies for its own dead ones and ends them at their last checkpoint, and
a client is told one ending while the row says another. ``tokenwire serve`` therefore holds
``<database>.lock`` (``flock``) for as long as it runs; a second one refuses to start. The
operating system drops the lock when the process ends, however it ends, so a server killed
with ``kill -9`` never leaves a stale lock behind. Other commands (``users create``) do not
take it: they only add rows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

__all__ = ["DatabaseInUse", "DatabaseLock"]


class DatabaseInUse(RuntimeError):
    """Another process serves this SQLite database."""


class DatabaseLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    @classmethod
    def for_url(cls, url: str) -> DatabaseLock | None:
        """The lock of a SQLite database file; ``None`` for an in-memory one or another
        database (PostgreSQL serves several instances, coordinated through Redis)."""
        parsed = make_url(url)
        if not parsed.drivername.startswith("sqlite"):
            return None
        database = parsed.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return cls(Path(database).with_name(Path(database).name + ".lock"))

    def acquire(self) -> None:
        """Hold the lock, or raise ``DatabaseInUse`` naming the process that holds it."""
        import fcntl  # POSIX; the one platform a server here runs on

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise DatabaseInUse(
                f"{self.path.with_suffix('')} is already served by {holder}: one server per"
                " SQLite database (several instances need PostgreSQL and Redis,"
                " docs/deploy.md)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file drops the lock
            self._file = None
