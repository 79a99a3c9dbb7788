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


class Screen(io.StringIO):
    def isatty(self) -> bool:
        return True


def wait_for(what: str, condition: Callable[[], bool], screen: Screen) -> None:
    deadline = time.monotonic() + 90
    while not condition():
        assert time.monotonic() < deadline, f"{what}; the chat wrote {screen.getvalue()!r}"
        time.sleep(0.02)


def at_prompt(session: PromptSession[str], text: str) -> bool:
    return session.app.is_running and session.default_buffer.text == text


def interrupt_the_call(screen: Screen, session: PromptSession[str]) -> None:
    """Ctrl-C as a signal to the chat waiting for a call, until it says it stopped: again
    after a while in case the first came before the call began to wait (a no-op then),
    never while a prompt runs (it would be the prompt's Ctrl-C)."""
    main = threading.main_thread()
    while "interrupted" not in screen.getvalue():
        if not session.app.is_running:
            signal.pthread_kill(main.ident or 0, signal.SIGINT)
        deadline = time.monotonic() + 10
        while "interrupted" not in screen.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)


def test_ctrl_c_stops_a_command_waiting_for_the_server_and_the_chat_goes_on(
    server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chat's own loop, keys typed into its prompt, Ctrl-C as the signal it is away
    from the prompt and as the key it is at one. A first message whose conversation the
    stopped server (SIGSTOP) never makes is given up and offered again at the prompt; Ctrl-C
    at ``/edit``'s prompt drops the edit, not the chat."""
    server = streaming_server(server_factory, "a short reply")
    screen = Screen()
    console = Console(file=screen, force_terminal=True, width=120, highlight=False)
    failures: list[BaseException] = []

    with (
        open(os.devnull) as devnull,
        Tokenwire(server.url, server.token) as client,
        create_pipe_input() as keys,
    ):
        monkeypatch.setattr(sys, "stdin", devnull)  # not a terminal: no type-ahead reader
        session: PromptSession[str] = PromptSession(input=keys, output=DummyOutput())
        chat = Chat(client, console, session=session)

        def offered() -> bool:
            return at_prompt(session, "hello there")

        def answered() -> bool:
            return chat.conversation_id is not None and at_prompt(session, "")

        def dropped() -> bool:
            return screen.getvalue().count("interrupted") == 2 and at_prompt(session, "")

        def drive() -> None:
            try:
                wait_for("the first prompt", lambda: at_prompt(session, ""), screen)
                server.proc.send_signal(SIGSTOP)
                try:
                    keys.send_text("hello there\r")
                    wait_for("the request at the server", server.has_unread_request, screen)
                    interrupt_the_call(screen, session)
                finally:
                    server.proc.send_signal(SIGCONT)
                wait_for("the unsent message offered again", offered, screen)
                keys.send_text("\r")
                wait_for("the reply, then the prompt", answered, screen)
                keys.send_text("/edit\r")
                wait_for("/edit's prompt", offered, screen)
                keys.send_text("\x03")
                wait_for("the edit dropped", dropped, screen)
            except BaseException as exc:
                failures.append(exc)  # raised by the test once the chat has ended
                server.proc.send_signal(SIGCONT)
            finally:
                keys.send_text("\x04")  # Ctrl-D: the chat ends

        driver = threading.Thread(target=drive)
        driver.start()
        try:
            chat.run(None)
        finally:
            driver.join()
        if failures:
            raise failures[0]

        shown = screen.getvalue()
        assert shown.count("interrupted") == 2
        assert shown.rstrip().endswith("bye")
        assert chat.conversation_id is not None
        history = client.history(chat.conversation_id).items
        assert [(m.role, m.content) for m in history] == [
            ("user", "hello there"),
            ("assistant", "a short reply"),
        ]
