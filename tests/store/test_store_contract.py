"""The store contract: every backend must pass these."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tokenwire.errors import NotFound
from tokenwire.protocol.events import ErrorInfo, Timings, Usage
from tokenwire.protocol.options import ROOT, PriorTurn
from tokenwire.store import Checkpoint, MessageStatus, Outcome, SQLStore
from tokenwire.store.store import NewConversation, NewTurn, TurnTarget
from tokenwire.store.tables import Base, in_models

pytestmark = pytest.mark.anyio


async def test_migrations_create_exactly_the_models(store: SQLStore) -> None:
    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(
            sync_conn,  # type: ignore[arg-type]
            opts={"include_name": in_models},
        )
        return list(compare_metadata(context, Base.metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_users_and_tokens(store: SQLStore) -> None:
    user, token = await store.create_user("ada")
    assert token.startswith("tw_")
    assert await store.authenticate(token) == user
    assert await store.authenticate(token + "x") is None
    await store.set_token(user.id, "tw_new")
    assert await store.authenticate(token) is None
    assert await store.authenticate("tw_new") == user


async def test_turns_are_idempotent_by_client_message_id(store: SQLStore) -> None:
    user, _ = await store.create_user("u")
    conv = await store.create_conversation(user.id, title="t")
    first = await store.add_turn(user.id, conv.id, content="hi", client_message_id="c1")
    again = await store.add_turn(user.id, conv.id, content="hi", client_message_id="c1")
    assert first.created
    assert not again.created
    assert again.user_message.id == first.user_message.id
    assert again.assistant_message.id == first.assistant_message.id
    racing = await asyncio.gather(
        *(store.add_turn(user.id, conv.id, content="x", client_message_id="c2") for _ in range(5))
    )
    assert len({t.assistant_message.id for t in racing}) == 1
    assert sum(t.created for t in racing) == 1
    page = await store.list_messages(user.id, conv.id)
    assert len(page.items) == 4


async def test_ownership_is_part_of_every_lookup(store: SQLStore) -> None:
    alice, _ = await store.create_user("alice")
    bob, _ = await store.create_user("bob")
    conv = await store.create_conversation(alice.id)
    turn = await store.add_turn(alice.id, conv.id, content="hi")
    with pytest.raises(NotFound):
        await store.get_conversation(bob.id, conv.id)
    with pytest.raises(NotFound):
        await store.get_message(bob.id, turn.assistant_message.id)
    with pytest.raises(NotFound):
        await store.add_turn(bob.id, conv.id, content="intrude")
    with pytest.raises(NotFound):
        await store.list_messages(bob.id, conv.id)
    with pytest.raises(NotFound):
        await store.delete_conversation(bob.id, conv.id)
    assert (await store.list_conversations(bob.id)).items == []


async def test_checkpoint_then_finish_and_no_second_finish(store: SQLStore) -> None:
    user, _ = await store.create_user("u")
    conv = await store.create_conversation(user.id)
    reply = (await store.add_turn(user.id, conv.id, content="hi")).assistant_message
    assert reply.status is MessageStatus.STREAMING
    await store.checkpoint([Checkpoint(reply.id, "Hel", ((1, 3),), 1)])
    saved = await store.get_message(user.id, reply.id)
    assert (saved.content, saved.marks, saved.last_seq) == ("Hel", ((1, 3),), 1)
    outcome = Outcome(
        status=MessageStatus.COMPLETE,
        content="Hello",
        marks=((1, 3), (2, 5)),
        last_seq=3,
        finish_reason="stop",
        usage=Usage(1, 2),
        timings=Timings(ttft_ms=None, total_ms=4.5),
    )
    done = await store.finish(reply.id, outcome)
    assert done is not None
    assert done.status is MessageStatus.COMPLETE
    # A late checkpoint and a second finish change nothing.
    await store.checkpoint([Checkpoint(reply.id, "Hel", ((1, 3),), 1)])
    assert await store.finish(reply.id, outcome) is None
    final = await store.get_message(user.id, reply.id)
    assert final.content == "Hello"
    assert (final.usage, final.timings, final.error) == (Usage(1, 2), outcome.timings, None)
    assert final.last_seq == 3
    assert await store.streaming_messages() == []


async def test_checkpoints_append_what_is_new(store: SQLStore) -> None:
    user, _ = await store.create_user("u")
    conv = await store.create_conversation(user.id)
    reply = (await store.add_turn(user.id, conv.id, content="hi")).assistant_message
    await store.checkpoint([Checkpoint(reply.id, "Hel", ((1, 3),), 1, after=0)])
    await store.checkpoint([Checkpoint(reply.id, "lo wö", ((2, 5), (3, 8)), 3, after=1)])
    saved = await store.get_message(user.id, reply.id)
    assert (saved.content, saved.marks, saved.last_seq) == (
        "Hello wö",
        ((1, 3), (2, 5), (3, 8)),
        3,
    )
    # An append onto a row that no longer ends where the writer thinks is left out.
    await store.checkpoint([Checkpoint(reply.id, "rld", ((4, 11),), 4, after=1)])
    assert (await store.get_message(user.id, reply.id)).content == "Hello wö"
    # A whole checkpoint replaces text and marks; appends go on from it.
    await store.checkpoint([Checkpoint(reply.id, "Hi", ((1, 2),), 1)])
    await store.checkpoint([Checkpoint(reply.id, "!", ((2, 3),), 2, after=1)])
    saved = await store.get_message(user.id, reply.id)
    assert (saved.content, saved.marks, saved.last_seq) == ("Hi!", ((1, 2), (2, 3)), 2)
    outcome = Outcome(MessageStatus.COMPLETE, "Hi!", ((1, 2), (2, 3)), 3, finish_reason="stop")
    assert await store.end_reply(reply.id, outcome) is True  # nothing read back
    assert await store.end_reply(reply.id, outcome) is False  # ended already
    done = await store.get_message(user.id, reply.id)
    assert (done.status, done.content, done.marks) == (
        MessageStatus.COMPLETE,
        "Hi!",
        ((1, 2), (2, 3)),
    )


async def test_status_transitions() -> None:
    MessageStatus.STREAMING.check_transition(MessageStatus.COMPLETE)
    MessageStatus.INTERRUPTED.check_transition(MessageStatus.STREAMING)
    with pytest.raises(ValueError, match="cannot go"):
        MessageStatus.COMPLETE.check_transition(MessageStatus.STREAMING)
    with pytest.raises(ValueError, match="cannot go"):
        MessageStatus.CANCELLED.check_transition(MessageStatus.ERROR)


async def test_history_is_everything_before_the_reply(store: SQLStore) -> None:
    user, _ = await store.create_user("u")
    conv = await store.create_conversation(user.id)
    t1 = await store.add_turn(user.id, conv.id, content="one")
    t2 = await store.add_turn(user.id, conv.id, content="two")
    history = await store.history(conv.id, t2.assistant_message.id)
    assert [m.id for m in history] == [
        t1.user_message.id,
        t1.assistant_message.id,
        t2.user_message.id,
    ]


async def test_delete_conversation_removes_its_messages(store: SQLStore) -> None:
    user, _ = await store.create_user("u")
    conv = await store.create_conversation(user.id)
    turn = await store.add_turn(user.id, conv.id, content="bye")
    await store.delete_conversation(user.id, conv.id)
    assert await store.find_message(turn.user_message.id) is None
    with pytest.raises(NotFound):
        await store.get_conversation(user.id, conv.id)


async def test_a_conversation_is_named_by_a_key_its_owner_alone_sets(store: SQLStore) -> None:
    alice, _ = await store.create_user("alice")
    bob, _ = await store.create_user("bob")
    first = await store.create_conversation(alice.id)
    second = await store.create_conversation(alice.id)
    assert await store.set_conversation_key(alice.id, first.id, "k1")
    found = await store.conversation_by_key(alice.id, "k1")
    assert found is not None
    assert found.id == first.id
    assert not await store.set_conversation_key(alice.id, second.id, "k1")  # taken
    with pytest.raises(NotFound):
        await store.set_conversation_key(bob.id, first.id, "k2")
    with pytest.raises(NotFound):
        await store.set_conversation_key(alice.id, "not-an-id", "k2")
    assert await store.set_conversation_key(alice.id, first.id, None)
    assert await store.conversation_by_key(alice.id, "k1") is None


async def test_a_turn_carries_the_branch_its_reply_answers(store: SQLStore) -> None:
    user, _ = await store.create_user("u")
    conv = await store.create_conversation(user.id)
    t1 = await store.add_turn(user.id, conv.id, content="one")
    # A second branch from the root: the third turn's branch must not hold t1.
    aside = await store.open_turn(
        user.id, TurnTarget(cid=conv.id), NewTurn(content="aside", parent_id=ROOT)
    )
    t3 = (
        await store.open_turn(
            user.id,
            TurnTarget(cid=conv.id),
            NewTurn(content="three", parent_id=aside[1].assistant_message.id),
        )
    )[1]
    assert t1.branch is not None
    assert [m.id for m in t1.branch] == [t1.user_message.id]
    stored = await store.history(conv.id, t3.assistant_message.id)
    assert t3.branch is not None
    assert [m.id for m in t3.branch] == [m.id for m in stored]
    assert [m.content for m in stored] == ["aside", "", "three"]

    # A conversation the turn made: its branch is what it wrote, as the store reads it back.
    history = (PriorTurn("user", "a"), PriorTurn("assistant", "b"), PriorTurn("user", "c"))
    made, turn = await store.open_turn(
        user.id,
        TurnTarget(key="k", new=NewConversation(key="k", kind="test", history=history)),
        NewTurn(content="d"),
    )
    assert made.current_leaf_id == turn.assistant_message.id
    stored = await store.history(made.id, turn.assistant_message.id)
    assert turn.branch is not None
    assert [(m.id, m.role, m.content) for m in turn.branch] == [
        (m.id, m.role, m.content) for m in stored
    ]
    assert [m.content for m in stored] == ["a", "b", "c", "", "d"]
    again = await store.get_conversation(user.id, made.id)
    assert again.current_leaf_id == turn.assistant_message.id


async def test_the_end_of_a_reply_names_its_conversation(store: SQLStore) -> None:
    user, _ = await store.create_user("u")
    named = await store.create_conversation(user.id)
    other = await store.create_conversation(user.id)
    first = await store.add_turn(user.id, named.id, content="one")
    second = await store.add_turn(user.id, other.id, content="two")
    ended = Outcome(MessageStatus.COMPLETE, "x", ((1, 1),), 2, conversation_key="digest")
    assert await store.end_reply(first.assistant_message.id, ended)
    found = await store.conversation_by_key(user.id, "digest")
    assert found is not None
    assert found.id == named.id
    # The name is taken: the reply still ends, its conversation stays unnamed.
    assert await store.end_reply(second.assistant_message.id, ended)
    reply = await store.find_message(second.assistant_message.id)
    assert reply is not None
    assert reply.status is MessageStatus.COMPLETE
    assert (await store.get_conversation(user.id, other.id)).key is None
    # A reply that already ended names nothing.
    late = Outcome(MessageStatus.COMPLETE, "y", ((1, 1),), 2, conversation_key="late")
    assert not await store.end_reply(first.assistant_message.id, late)
    assert await store.conversation_by_key(user.id, "late") is None


async def test_json_columns_read_back_as_written_by_every_read(store: SQLStore) -> None:
    """A message's JSON columns are read as their stored text and decoded by the store: what
    was written comes back from each read (by id, the branch shown, a prompt's history, the
    ORM's page), empty values and nulls included."""
    user, _ = await store.create_user("u")
    conv = await store.create_conversation(user.id)
    first = await store.add_turn(user.id, conv.id, content="look", images=["data:a", "data:b"])
    failed = Outcome(
        status=MessageStatus.ERROR,
        content="par",
        marks=((1, 3),),
        last_seq=2,
        error=ErrorInfo("upstream_error", 'it said "no" ✗', True),
        timings=Timings(ttft_ms=12.5, total_ms=40.0, tokens_per_second=None),
        metadata={"tool_calls": [{"id": "c1", "name": "f", "arguments": "{}"}], "n": 1.5},
    )
    assert await store.finish(first.assistant_message.id, failed) is not None
    second = await store.add_turn(user.id, conv.id, content="plain")

    user_id, reply_id, plain_id = (
        first.user_message.id,
        first.assistant_message.id,
        second.user_message.id,
    )
    by_id = {m: await store.get_message(user.id, m) for m in (user_id, reply_id, plain_id)}
    _, shown = await store.branch(user.id, conv.id)
    page = (await store.list_messages(user.id, conv.id)).items
    for read in (list(by_id.values()), shown, page):
        found = {m.id: m for m in read}
        assert found[user_id].images == ("data:a", "data:b")
        assert found[reply_id].error == failed.error
        assert found[reply_id].timings == failed.timings
        assert found[reply_id].usage is None
        assert found[reply_id].metadata == failed.metadata
        assert found[reply_id].marks == ((1, 3),)
        assert (found[plain_id].images, found[plain_id].metadata) == ((), {})
        assert found[plain_id].error is None
    said = {m.id: m for m in await store.history(conv.id, second.assistant_message.id)}
    assert said[user_id].images == ("data:a", "data:b")
    assert said[reply_id].metadata == failed.metadata
    assert (said[plain_id].images, said[plain_id].metadata) == ((), {})
