"""Where a local ``tokenwire serve`` listens, kept in ``serve.json`` in its data dir.

The server writes it once its socket listens and removes it when it stops, so that
``tokenwire chat`` on the same machine finds it whatever ``--host``/``--port`` it was given.
A file left behind by a server that died is ignored: its process is gone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["FILE", "clear", "find", "record"]

FILE = "serve.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def record(data_dir: Path, url: str) -> Path:
    """Say that this process serves ``url`` (written whole, then renamed into place)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / FILE
    part = path.with_suffix(f".{os.getpid()}.part")
    part.write_text(json.dumps({"url": url, "pid": os.getpid()}) + "\n")
    part.replace(path)
    return path


def clear(data_dir: Path) -> None:
    """Remove the record, if it is still this process's (another server may have taken
    the data dir over since)."""
    path = data_dir / FILE
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def find(data_dir: Path) -> str | None:
    """The URL of the server running with this data dir, or ``None``."""
    try:
        found = json.loads((data_dir / FILE).read_text())
        url, pid = found["url"], found["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str) or not isinstance(pid, int) or not _alive(pid):
        return None
    return url
