"""Keys typed while a reply streams, kept instead of echoed.

A terminal in its usual (canonical, echoing) mode prints every key where the cursor is:
in the middle of a reply being drawn, so the screen garbles and the line shows twice.
While a reply streams, ``TypeAhead`` turns echo and line editing off (signals stay on, so
Ctrl-C still stops the reply), reads the keys on a thread and keeps the text they make;
the live display shows it, and the next prompt starts with it.
"""

from __future__ import annotations

import os
import select
import sys
import threading
from types import TracebackType
from typing import Any

try:
    import termios
except ImportError:  # not a POSIX terminal: keys are left to the terminal
    termios = None  # type: ignore[assignment]

__all__ = ["TypeAhead"]

_ERASE = {"\x7f", "\b"}
_KILL_LINE = "\x15"  # Ctrl-U
_KILL_WORD = "\x17"  # Ctrl-W


class TypeAhead:
    """``with TypeAhead() as keys: ...``; ``keys.text`` is what was typed so far."""

    def __init__(self, fd: int | None = None) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.text = ""
        self._saved: list[Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._escape = False  # inside an escape sequence (an arrow key, a function key)

    def __enter__(self) -> TypeAhead:
        if termios is None or not os.isatty(self.fd):
            return self
        self._saved = termios.tcgetattr(self.fd)
        quiet = termios.tcgetattr(self.fd)
        quiet[3] &= ~(termios.ECHO | termios.ICANON)
        termios.tcsetattr(self.fd, termios.TCSANOW, quiet)
        self._thread = threading.Thread(target=self._read, name="typeahead", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._saved is not None and termios is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                data = os.read(self.fd, 1024)
                if not data:
                    return
                self.feed(data.decode("utf-8", errors="ignore"))

    def feed(self, keys: str) -> None:
        """Apply typed keys to the text: printable ones add, Backspace, Ctrl-U and Ctrl-W
        erase; Enter and other control keys (and escape sequences) are dropped."""
        text = self.text
        for key in keys:
            if self._escape:
                # CSI sequences end with a letter or ~; a lone ESC ends at the next key.
                if key.isalpha() or key == "~":
                    self._escape = False
                continue
            if key == "\x1b":
                self._escape = True
            elif key in _ERASE:
                text = text[:-1]
            elif key == _KILL_LINE:
                text = ""
            elif key == _KILL_WORD:
                text = text.rstrip().rpartition(" ")[0] + (" " if " " in text.rstrip() else "")
                text = text if text.strip() else ""
            elif key.isprintable():
                text += key
        self.text = text
