"""``tokenwire chat`` in a pseudo-terminal, as a person types into it."""

from __future__ import annotations

import os
import sys

import pexpect

from tests.helpers.server import Server


def spawn_chat(server: Server) -> pexpect.spawn:
    """The terminal chat on ``server``, in a 40x120 xterm; close it with ``close(force=True)``."""
    return pexpect.spawn(
        sys.executable,
        ["-m", "tokenwire", "chat", "--url", server.url, "--token", server.token],
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"},
        encoding="utf-8",
        dimensions=(40, 120),
        # Each expect waits for what the screen shows; on a machine whose cores are busy the
        # chat's start-up alone can take tens of seconds.
        timeout=90,
    )
