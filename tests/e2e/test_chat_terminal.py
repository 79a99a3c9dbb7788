"""``tokenwire chat`` in a pseudo-terminal, against a real server: a reply streams, Ctrl-C
cancels it, ``/new``, ``/list`` and ``/open`` work, the chat rides out a server restart,
and Ctrl-C at the prompt leaves."""

from __future__ import annotations

from collections.abc import Iterator

import pexpect
import pytest

from tests.conftest import ServerFactory
from tests.helpers.server import Server, start_server
from tests.helpers.terminal import ENDLESS, PROMPT, spawn_chat, streaming_server

ANSWER = "Here is **the answer**: " + ENDLESS


@pytest.fixture
def chat_server(server_factory: ServerFactory) -> Server:
    # A fixed reply, so that what the terminal shows cannot be the echo of what was typed.
    return streaming_server(server_factory, ANSWER)


@pytest.fixture
def chat(chat_server: Server) -> Iterator[pexpect.spawn]:
    child = spawn_chat(chat_server)
    yield child
    child.close(force=True)


def history(server: Server, conversation_id: str) -> list[dict[str, object]]:
    with server.client() as client:
        response = client.get(f"/api/v1/conversations/{conversation_id}/messages")
        items: list[dict[str, object]] = response.json()["items"]
        return items


def conversations(server: Server) -> list[str]:
    with server.client() as client:
        return [c["id"] for c in client.get("/api/v1/conversations").json()["items"]]


def test_stream_cancel_new_list_open_and_leave(chat_server: Server, chat: pexpect.spawn) -> None:
    chat.expect("new conversation: it starts with your first message")
    chat.expect(PROMPT)
    assert conversations(chat_server) == [], "nothing is made before the first send"
    chat.sendline("tell me everything")
    chat.expect(r"conversation\S* ([0-9a-f-]{36})")
    first = chat.match.group(1)
    chat.expect("t5 ")  # the reply is streaming
    chat.sendintr()
    chat.expect(r"\[cancelled\]")
    chat.expect(PROMPT)
    messages = history(chat_server, first)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["status"] == "cancelled"
    assert ANSWER.startswith(str(messages[1]["content"]))
    assert messages[1]["content"] != ANSWER

    chat.sendline("/new")
    chat.expect("new conversation: it starts with your first message")
    chat.expect(PROMPT)
    assert conversations(chat_server) == [first], "/new makes nothing either"
    chat.sendline("/new")
    chat.expect(PROMPT)
    chat.sendline("a second question")
    chat.expect(r"conversation\S* ([0-9a-f-]{36})")
    second = chat.match.group(1)
    assert second != first
    chat.expect("t3 ")
    chat.sendintr()
    chat.expect(r"\[cancelled\]")
    chat.expect(PROMPT)
    assert conversations(chat_server) == [second, first]
    chat.sendline("/list")
    chat.expect(second)
    chat.expect(first)
    chat.expect(PROMPT)

    chat.sendline(f"/open {first[:-4]}")  # a unique start of the id will do
    chat.expect(f"conversation\\S* {first}")
    chat.expect("tell me everything")
    chat.expect(PROMPT)

    chat.sendintr()
    chat.expect("bye")
    chat.expect(pexpect.EOF)
    assert chat.wait() == 0


def test_the_chat_rides_out_a_server_restart(chat_server: Server, chat: pexpect.spawn) -> None:
    chat.expect(PROMPT)
    chat_server.stop()
    chat.expect("reconnecting|offline")
    again = start_server(chat_server.data_dir, chat_server.env, port=chat_server.port)
    try:
        chat.expect("connected")
        chat.sendline("are you back?")
        chat.expect("t3 ")
        chat.sendintr()
        chat.expect(r"\[cancelled\]")
        chat.expect(PROMPT)
    finally:
        again.stop()
