"""The pure parts of the chat features: titles made plain, snippets, the message tree, and
a reply's events rebuilt from its row for a continue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tokenwire.engine.replay import seed
from tokenwire.engine.titles import plain_title
from tokenwire.ids import ConversationId, MessageId, UserId
from tokenwire.protocol.events import MessageDelta, MessageQueued, MessageStart
from tokenwire.store.records import Message, MessageStatus
from tokenwire.store.search import snippet, words
from tokenwire.store.tree import Tree


@pytest.mark.parametrize(
    ("written", "title"),
    [
        ("**Plans** for [the trip](https://x.example/rome) to Rome", "Plans for the trip to Rome"),
        ('Title: "Weekly *meal* plan"', "Weekly meal plan"),
        ("## `asyncio` basics\n\nMore text below", "asyncio basics"),
        ("> ![logo](a.png) Brand <b>ideas</b>.", "logo Brand ideas"),
        (
            "- one two three four five six seven eight nine ten",
            "one two three four five six seven eight",
        ),
        ("```\n\n```", None),
        ("   ", None),
    ],
)
def test_titles_are_plain_text(written: str, title: str | None) -> None:
    assert plain_title(written) == title


def test_snippets_are_plain_text_around_the_first_match() -> None:
    text = " ".join(f"w{i}" for i in range(100)) + " target " + " ".join("x" * 5 for _ in range(60))
    cut = snippet(text, ["target"])
    assert cut.startswith("…")
    assert cut.endswith("…")
    assert "target" in cut
    assert len(cut) <= 162
    assert snippet("short   text\nhere", ["text"]) == "short text here"
    assert words('Hello, "wörld"! x_y AND-or') == ["hello", "wörld", "x", "y", "and", "or"]


def test_the_tree_gives_branches_leaves_and_siblings() -> None:
    tree = Tree()
    for mid, parent in [
        ("u1", None),
        ("a1", "u1"),
        ("u2", "a1"),
        ("a2", "u2"),
        ("u2b", "a1"),
        ("a2b", "u2b"),
        ("a2c", "u2b"),
        ("u0", None),
    ]:
        tree.add(MessageId(mid), MessageId(parent) if parent else None)
    assert tree.branch(MessageId("a2")) == ["u1", "a1", "u2", "a2"]
    assert tree.newest_leaf(MessageId("u1")) == "a2c"  # the newest child at each step
    assert tree.newest_leaf(MessageId("u2")) == "a2"
    assert tree.siblings(MessageId("u2b")) == ["u2", "u2b"]
    assert tree.siblings(MessageId("u0")) == ["u1", "u0"]
    assert tree.siblings(MessageId("a2c")) == ["a2b", "a2c"]


def test_a_reply_is_rebuilt_from_its_row_seq_for_seq() -> None:
    now = datetime(2026, 1, 29, tzinfo=UTC)
    user = Message(
        MessageId("u"),
        ConversationId("c"),
        UserId("x"),
        "user",
        "hi",
        MessageStatus.COMPLETE,
        created_at=now,
        updated_at=now,
    )
    reply = Message(
        MessageId("r"),
        ConversationId("c"),
        UserId("x"),
        "assistant",
        "Hello there",
        MessageStatus.CANCELLED,
        created_at=now,
        updated_at=now,
        reply_to=MessageId("u"),
        marks=((2, 5), (3, 11)),
        last_seq=4,
    )
    events = seed(reply, user, 3)
    assert isinstance(events[0], MessageStart)
    assert events[1:] == [
        MessageQueued("r", 1, 1),
        MessageDelta("r", 2, "Hello"),
        MessageDelta("r", 3, " there"),
    ]


def test_a_busy_model_is_not_asked_for_a_title() -> None:
    import asyncio

    from tokenwire.engine.titles import write_title
    from tokenwire.providers.queue import FairQueue
    from tokenwire.providers.scripted import ScriptedProvider

    line = FairQueue(slots=1)
    model = ScriptedProvider(text="A **model** title", delay_ms=0, queue=line)
    first = "# Plans for *Rome* and more words than a title has room for"
    assert asyncio.run(write_title(model, first)) == "A model title"
    ticket = line.join()  # a reply holds the model
    assert asyncio.run(write_title(model, first)) == "Plans for Rome and more words than a"
    line.leave(ticket)
