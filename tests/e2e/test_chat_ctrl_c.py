"""Ctrl-C while ``tokenwire chat`` streams a reply, delivered at the worst moment: while the
chat is writing to the terminal.

A ``KeyboardInterrupt`` raised there can leave rich's console with its output buffer open,
after which nothing the chat prints reaches the screen (the reply's "[cancelled]" never
showed, and the prompt came back on its own). So the chat takes Ctrl-C with a signal handler
that raises nothing. These tests run the chat's own ``follow`` in this process against a
real server, with a console whose file sends SIGINT to the main thread from inside a write
and notes whether that write was interrupted.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from signal import SIGCONT, SIGSTOP

import pytest
from prompt_toolkit import PromptSession
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from tests.conftest import ServerFactory
from tests.helpers.server import Server
from tests.helpers.terminal import ENDLESS, streaming_server
from tokenwire.chat import Chat
from tokenwire.client import ReplyStatus, Tokenwire


class Terminal(io.StringIO):
    """What the chat writes; once it has drawn ``cue``, the next write from the main thread
    sends it ``presses`` SIGINTs, as Ctrl-C does, and waits for the handler to run."""

    def __init__(self, cue: str, presses: int, first: Callable[[], None] = lambda: None) -> None:
        super().__init__()
        self.cue = cue
        self.presses = presses
        self.first = first  # done just before the first press
        self.sent = False
        self.interrupted = False

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        written = super().write(text)
        main = threading.main_thread()
        if not self.sent and self.cue in self.getvalue() and threading.current_thread() is main:
            self.sent = True
            self.first()
            try:
                for _ in range(self.presses):
                    # To this thread: the signal is pending when pthread_kill returns, and
                    # Python runs its handler during the sleep (which a raising handler ends).
                    signal.pthread_kill(main.ident or 0, signal.SIGINT)
                    time.sleep(0.05)
            except KeyboardInterrupt:
                self.interrupted = True
                raise
        return written


@pytest.fixture
def chat_server(server_factory: ServerFactory) -> Server:
    return streaming_server(server_factory, ENDLESS)


@pytest.fixture
def client(chat_server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tokenwire]:
    # Signal handlers are set, and run, in the main thread only.
    assert threading.current_thread() is threading.main_thread()
    with open(os.devnull) as devnull:
        # Not a terminal: the chat's type-ahead reader stands aside.
        monkeypatch.setattr(sys, "stdin", devnull)
        with Tokenwire(chat_server.url, chat_server.token) as client:
            yield client


@contextmanager
def chat_on(client: Tokenwire, terminal: Terminal) -> Iterator[Chat]:
    console = Console(file=terminal, force_terminal=True, width=120, highlight=False)
    with create_pipe_input() as keys:
        yield Chat(client, console, session=PromptSession(input=keys, output=DummyOutput()))


def test_ctrl_c_inside_a_write_cancels_and_the_chat_still_shows_what_it_prints(
    client: Tokenwire,
) -> None:
    terminal = Terminal(cue="t5 ", presses=1)
    with chat_on(client, terminal) as chat:
        handler = signal.getsignal(signal.SIGINT)
        chat.ask("tell me everything")
        assert terminal.sent
        assert not terminal.interrupted, "Ctrl-C raised inside the console's write"
        assert signal.getsignal(signal.SIGINT) is handler, "the prompt's Ctrl-C is back"
        chat.console.print("after the reply")

    shown = terminal.getvalue()
    assert "[cancelled]" in shown
    assert shown.rstrip().endswith("after the reply")
    assert chat.conversation_id is not None
    history = client.history(chat.conversation_id).items
    assert [m.role for m in history] == ["user", "assistant"]
    assert history[1].status is ReplyStatus.CANCELLED
    assert ENDLESS.startswith(history[1].content)
    assert "t5" in history[1].content
    assert history[1].content != ENDLESS


def test_a_second_ctrl_c_stops_following_a_server_that_does_not_answer(
    chat_server: Server, client: Tokenwire
) -> None:
    # The server is stopped (SIGSTOP) before the first press: the cancel cannot land, and
    # only the second press gets the chat back.
    terminal = Terminal(cue="t5 ", presses=2, first=lambda: chat_server.proc.send_signal(SIGSTOP))
    try:
        with chat_on(client, terminal) as chat:
            chat.ask("tell me everything")
            assert terminal.sent
            assert not terminal.interrupted, "Ctrl-C raised inside the console's write"
            chat.console.print("after the reply")
    finally:
        chat_server.proc.send_signal(SIGCONT)

    shown = terminal.getvalue()
    assert "[no longer following]" in shown
    assert shown.rstrip().endswith("after the reply")
