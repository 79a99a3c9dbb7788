"""``tokenwire chat``'s commands on the message tree, in a pseudo-terminal against a real
server: ``/continue`` a reply cut at the length limit, ``/regen``, ``/edit`` and ``/search``,
each checked against what the server stored."""

from __future__ import annotations

from collections.abc import Iterator

import pexpect
import pytest

from tests.conftest import ServerFactory
from tests.helpers.server import Server
from tests.helpers.terminal import PROMPT, spawn_chat

ANSWER = " ".join(f"t{i}" for i in range(300))


@pytest.fixture
def tree_server(server_factory: ServerFactory) -> Server:
    # Every reply stops at the length limit after six words.
    return server_factory(
        scripted_text=ANSWER,
        scripted_chunk_words=1,
        scripted_delay_ms=20,
        scripted_max_chunks=6,
        shutdown_grace_s=0,
    )


@pytest.fixture
def chat(tree_server: Server) -> Iterator[pexpect.spawn]:
    child = spawn_chat(tree_server)
    yield child
    child.close(force=True)


def branch(server: Server, cid: str) -> list[dict[str, object]]:
    with server.client() as client:
        items: list[dict[str, object]] = client.get(f"/api/v1/conversations/{cid}/messages").json()[
            "items"
        ]
        return items


def test_regen_edit_and_search(tree_server: Server, chat: pexpect.spawn) -> None:
    chat.expect(PROMPT)
    chat.sendline("tell me a long story about foxes")
    chat.expect(r"conversation\S* ([0-9a-f-]{36})")
    cid = chat.match.group(1)
    chat.expect(r"cut off at the length limit")
    chat.expect(PROMPT)
    (question, reply) = branch(tree_server, cid)
    assert reply["content"] == "t0 t1 t2 t3 t4 t5"
    assert reply["finish_reason"] == "length"

    # /regen: a new version of the reply beside the old one.
    chat.sendline("/regen")
    chat.expect(r"reply ‹ 2 / 2 ›")
    chat.expect(PROMPT)
    (_, regenerated) = branch(tree_server, cid)
    assert regenerated["id"] != reply["id"]
    assert regenerated["siblings"] == {"ids": [reply["id"], regenerated["id"]], "index": 1}

    # /edit TEXT: the question changed, on a branch of its own; the old one stays.
    chat.sendline("/edit tell me about owls instead")
    chat.expect(r"message ‹ 2 / 2 ›")
    chat.expect(PROMPT)
    (edited, answer) = branch(tree_server, cid)
    assert edited["content"] == "tell me about owls instead"
    assert edited["siblings"]["ids"] == [question["id"], edited["id"]]  # type: ignore[index]
    assert answer["parent_id"] == edited["id"]

    # /search finds both versions' words, with the conversation to /open.
    chat.sendline("/search owls")
    chat.expect(cid)
    chat.expect("tell me about owls instead")
    chat.expect(PROMPT)
    chat.sendline("/search nothingatallmatches")
    chat.expect("nothing found for")
    chat.expect(PROMPT)


def test_continue_goes_on_with_the_same_reply(tree_server: Server, chat: pexpect.spawn) -> None:
    chat.expect(PROMPT)
    chat.sendline("tell me a long story about foxes")
    chat.expect(r"conversation\S* ([0-9a-f-]{36})")
    cid = chat.match.group(1)
    chat.expect(r"cut off at the length limit")
    chat.expect(PROMPT)
    (_, reply) = branch(tree_server, cid)
    chat.sendline("/continue")
    chat.expect("t11")
    chat.expect(PROMPT)
    (_, continued) = branch(tree_server, cid)
    assert continued["id"] == reply["id"]
    assert continued["content"] == " ".join(f"t{i}" for i in range(12))


def test_edit_without_text_starts_from_the_old_message(
    tree_server: Server, chat: pexpect.spawn
) -> None:
    chat.expect(PROMPT)
    chat.sendline("/regen")
    chat.expect("no reply to regenerate yet")
    chat.expect(PROMPT)
    chat.sendline("what about badgers")
    chat.expect(r"conversation\S* ([0-9a-f-]{36})")
    cid = chat.match.group(1)
    chat.expect(PROMPT)
    chat.sendline("/edit")
    chat.expect("edit › ")
    chat.expect("what about badgers")
    chat.send("\x17")  # Ctrl-W: the last word goes
    chat.sendline("otters")
    chat.expect(r"message ‹ 2 / 2 ›")
    chat.expect(PROMPT)
    assert branch(tree_server, cid)[0]["content"] == "what about otters"
