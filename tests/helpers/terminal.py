"""A program in a pseudo-terminal, and the screen a terminal would show for its output.

pexpect runs the program; pyte, a VT100 emulator, applies every byte it writes (cursor
moves, erasures, redraws) to a 120x40 screen. A test then reads the screen as the user
would see it, so "the screen is clean" is something it can check.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import pexpect
import pyte

from tests.conftest import ServerFactory
from tests.helpers.server import Server

COLUMNS, LINES = 120, 40
PROMPT = "you ›"
# Long enough to be streaming still when a test stops it, however busy the machine is.
ENDLESS = " ".join(f"t{i}" for i in range(5000))


def streaming_server(factory: ServerFactory, text: str) -> Server:
    """A server whose scripted model answers every message with ``text``, a word every 40 ms,
    and no token cap: a reply ends only when the test stops it or ``text`` runs out."""
    return factory(
        scripted_text=text,
        scripted_chunk_words=1,
        scripted_delay_ms=40,
        shutdown_grace_s=0,
        max_tokens=6000,
    )


def spawn_chat(server: Server | None, env: dict[str, str] | None = None) -> pexpect.spawn:
    """``tokenwire chat`` in a 40x120 xterm; close it with ``close(force=True)``.

    Given a ``server`` it signs in to it by URL and token; without one the chat finds its
    server and token itself, as it does when a person types just ``tokenwire chat``."""
    args = ["--url", server.url, "--token", server.token] if server else []
    return pexpect.spawn(
        sys.executable,
        ["-m", "tokenwire", "chat", *args],
        env={
            **os.environ,
            "TERM": "xterm-256color",
            "COLUMNS": str(COLUMNS),
            "LINES": str(LINES),
            **(env or {}),
        },
        encoding="utf-8",
        dimensions=(LINES, COLUMNS),
        # Each expect waits for what the screen shows; on a machine whose cores are busy the
        # chat's start-up alone can take tens of seconds.
        timeout=90,
    )


class Terminal:
    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child
        self.screen = pyte.Screen(COLUMNS, LINES)
        # Answer the program's questions as a terminal does (the cursor position report
        # that prompt_toolkit asks for).
        self.screen.write_process_input = child.send  # type: ignore[method-assign]
        self.stream = pyte.Stream(self.screen)
        self.output = ""  # everything written, as text, for failure messages

    def pump(self, wait: float = 0.05) -> None:
        """Apply whatever the program wrote since the last call."""
        while True:
            try:
                chunk = self.child.read_nonblocking(65536, timeout=wait)
            except pexpect.TIMEOUT:
                return
            except pexpect.EOF:
                return
            self.output += chunk
            self.stream.feed(chunk)
            wait = 0.01

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        return "\n".join(line for line in self.lines() if line)

    def wait_for(self, check: Callable[[str], bool] | str, timeout: float = 90) -> str:
        """Wait until the screen's text passes ``check`` (or contains it); returns the text.
        The deadline is generous: with every core busy the chat can take tens of seconds to
        start and to draw."""
        test = (lambda text: check in text) if isinstance(check, str) else check
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            text = self.text()
            if test(text):
                return text
        raise AssertionError(f"the screen never showed {check!r}:\n{self.text()}")

    def last_line(self) -> str:
        self.pump()
        filled = [line for line in self.lines() if line.strip()]
        return filled[-1] if filled else ""
