"""What ``tokenwire chat`` leaves on the screen, read through a terminal emulator: keys typed
while a reply streams neither garble it nor show twice, ``/list`` keeps to its own lines,
the prompt comes back after a reconnect; and the chat finds the local server's port."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import ServerFactory
from tests.helpers.server import Server, start_server
from tests.helpers.terminal import ENDLESS, PROMPT, Terminal, spawn_chat, streaming_server


@pytest.fixture
def chat_server(server_factory: ServerFactory) -> Server:
    return streaming_server(server_factory, ENDLESS)


@pytest.fixture
def terminal(chat_server: Server) -> Iterator[Terminal]:
    child = spawn_chat(chat_server)
    yield Terminal(child)
    child.close(force=True)


def history(server: Server) -> list[dict[str, object]]:
    with server.client() as client:
        (conversation,) = client.get("/api/v1/conversations").json()["items"]
        items: list[dict[str, object]] = client.get(
            f"/api/v1/conversations/{conversation['id']}/messages"
        ).json()["items"]
        return items


def test_typing_while_a_reply_streams_leaves_a_clean_screen(
    chat_server: Server, terminal: Terminal
) -> None:
    terminal.wait_for(PROMPT)
    terminal.child.sendline("tell me everything")
    terminal.wait_for("t5 ")
    for key in "what about":  # typed one key at a time, as a person types, mid-stream
        terminal.child.send(key)
        terminal.pump(0.03)
    terminal.child.send("\x7f\x7f\x7f\x7f\x7f")  # Backspace, five times: "what "
    terminal.child.send("foxes?")
    screen = terminal.wait_for("you › what foxes?")
    terminal.wait_for("t40 ")  # the reply went on streaming, undisturbed
    screen = terminal.text()
    reply_lines = [line for line in screen.splitlines() if "t1 t2 t3" in line or "t39" in line]
    assert reply_lines, screen
    assert not any("what" in line or "foxes" in line for line in reply_lines), screen
    assert screen.count("what foxes?") == 1, screen

    terminal.child.sendintr()  # stop the reply; what was typed starts the next prompt
    terminal.wait_for("[cancelled]")
    prompt = terminal.wait_for(lambda text: text.splitlines()[-1].endswith("you › what foxes?"))
    assert prompt.count("what foxes?") == 1, prompt
    terminal.child.send("\r")
    terminal.wait_for(lambda text: text.count("t0 t1 t2 t3 ") == 2)  # the second reply's
    terminal.child.sendintr()
    terminal.wait_for(lambda text: text.count("[cancelled]") == 2)
    sent = [m["content"] for m in history(chat_server) if m["role"] == "user"]
    assert sent == ["tell me everything", "what foxes?"]


def test_list_keeps_its_header_off_the_prompt(chat_server: Server, terminal: Terminal) -> None:
    terminal.wait_for(PROMPT)
    terminal.child.sendline("a first question")
    terminal.wait_for("t3 ")
    terminal.child.sendintr()
    terminal.wait_for("[cancelled]")
    terminal.wait_for(lambda text: text.splitlines()[-1].endswith(PROMPT))
    terminal.child.sendline("/list")
    screen = terminal.wait_for(lambda text: "a first question" in text.splitlines()[-2])
    header = [line for line in screen.splitlines() if re.search(r"\bid\b.*\btitle\b", line)]
    assert len(header) == 1, screen
    assert PROMPT not in header[0]
    assert re.fullmatch(r"\s*id\s+title\s+persona\s+updated", header[0]), header
    assert terminal.last_line().endswith(PROMPT), "a fresh prompt on its own line"


def test_the_prompt_is_back_after_a_reconnect(chat_server: Server, terminal: Terminal) -> None:
    terminal.wait_for(PROMPT)
    chat_server.stop()
    terminal.wait_for(lambda text: re.search(r"(reconnecting|offline).*you ›$", text) is not None)
    again = start_server(chat_server.data_dir, chat_server.env, port=chat_server.port)
    try:
        screen = terminal.wait_for(
            lambda text: "● connected\n" in text + "\n" and text.endswith("connected you ›")
        )
        assert screen.splitlines()[-1].strip() == "● connected you ›", screen
        terminal.child.sendline("still there?")
        terminal.wait_for("t3 ")
        terminal.child.sendintr()
        terminal.wait_for("[cancelled]")
    finally:
        again.stop()


def test_the_chat_finds_the_port_the_local_server_listens_on(chat_server: Server) -> None:
    # No --url: the chat reads where `tokenwire serve` (here on a random port) listens.
    env = {
        "TOKENWIRE_DATA_DIR": str(chat_server.data_dir),
        "TOKENWIRE_TOKEN": "",
        "TOKENWIRE_PORT": "1",
    }
    assert (chat_server.data_dir / "serve.json").is_file()
    child = spawn_chat(None, env={**env, "TOKENWIRE_TOKEN": chat_server.token})
    try:
        terminal = Terminal(child)
        terminal.wait_for(f"tokenwire chat on {chat_server.url}")
        terminal.wait_for("● connected you ›")
    finally:
        child.close(force=True)
    chat_server.stop()
    assert not (chat_server.data_dir / "serve.json").exists(), "removed when the server stops"
