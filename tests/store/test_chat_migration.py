"""Migration 0010 on a database kept before messages formed a tree: linear history reads as
one branch, and what was there already is searchable; on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tokenwire.ids import UserId, uuid7
from tokenwire.store import SQLStore
from tokenwire.store.migrate import upgrade

pytestmark = pytest.mark.anyio


async def test_linear_history_becomes_one_branch_and_is_searchable(store_url: str) -> None:
    store = SQLStore(store_url)
    try:
        await upgrade(store.engine, "0002")
        user, cid = uuid7(), uuid7()
        start = datetime(2026, 1, 1, tzinfo=UTC)
        rows = []
        for turn in range(3):
            at = start + timedelta(minutes=turn)
            asked, answered = uuid7(), uuid7()
            rows.append((asked, "user", f"question {turn} aardvark", None, at))
            rows.append((answered, "assistant", f"answer {turn}", asked, at))
        async with store.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO users VALUES (:id, 'old', 'hash', :at)"),
                {"id": user, "at": start},
            )
            await conn.execute(
                text(
                    "INSERT INTO conversations (id, user_id, title, metadata, created_at,"
                    " updated_at) VALUES (:id, :user, 'Old zebra notes', '{}', :at, :at)"
                ),
                {"id": cid, "user": user, "at": start},
            )
            for mid, role, content, reply_to, at in rows:
                await conn.execute(
                    text(
                        "INSERT INTO messages (id, conversation_id, user_id, role, content, status,"
                        " reply_to, metadata, images, marks, last_seq, created_at, updated_at)"
                        " VALUES (:id, :cid, :user, :role, :content, 'complete', :reply_to, '{}',"
                        " '[]', '[]', 0, :at, :at)"
                    ),
                    {
                        "id": mid,
                        "cid": cid,
                        "user": user,
                        "role": role,
                        "content": content,
                        "reply_to": reply_to,
                        "at": at,
                    },
                )
        await store.migrate()

        conversation, branch = await store.branch(UserId(user), cid)
        assert [m.id for m in branch] == [r[0] for r in rows]
        assert [m.parent_id for m in branch] == [None] + [r[0] for r in rows[:-1]]
        assert conversation.current_leaf_id == rows[-1][0]
        assert all(m.siblings == (m.id,) for m in branch)
        # The prompt of the last reply is the branch before it.
        history = await store.history(conversation.id, branch[-1].id)
        assert [m.content for m in history] == [r[2] for r in rows[:-1]]

        hits = await store.search(UserId(user), "aardvark")
        assert {h.message_id for h in hits} == {r[0] for r in rows if r[1] == "user"}
        assert [h.conversation_id for h in await store.search(UserId(user), "zebra")] == [cid]
        assert await store.search(UserId(uuid7()), "aardvark") == []
    finally:
        await store.close()


async def test_the_migration_goes_down_and_up_again(store_url: str) -> None:
    from alembic import command

    from tokenwire.store.migrate import alembic_config

    store = SQLStore(store_url)
    try:
        await store.migrate()
        async with store.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0002"))
        await store.migrate()
        user, _token = await store.create_user("again")
        made = await store.create_conversation(user.id, title="after the round trip")
        turn = await store.add_turn(user.id, made.id, content="still works")
        assert turn.user_message.parent_id is None
        assert [h.conversation_id for h in await store.search(user.id, "round trip")] == [made.id]
    finally:
        await store.close()
