"""messages form a tree; full-text search over messages and titles

Every message gets ``parent_id`` and every conversation ``current_leaf_id``. Existing
conversations were linear: a reply's parent is its user message (``reply_to``), a user
message's parent the reply created before it, and the leaf is the newest message.

Search: on SQLite, FTS5 tables over messages and titles (external content, kept by
triggers); on PostgreSQL, a generated ``tsvector`` column on each with a GIN index. Both
index a reply only once it stops streaming, so checkpoints of a growing reply cost no
re-indexing.

Revision ID: 0010
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0003"
branch_labels = None
depends_on = None

_BACKFILL = (
    "UPDATE messages SET parent_id = reply_to WHERE role = 'assistant'",
    """
    UPDATE messages SET parent_id = (
        SELECT p.id FROM messages AS p
        WHERE p.conversation_id = messages.conversation_id AND p.role = 'assistant'
          AND (p.created_at < messages.created_at
               OR (p.created_at = messages.created_at AND p.id < messages.id))
        ORDER BY p.created_at DESC, p.id DESC LIMIT 1
    ) WHERE role != 'assistant'
    """,
    """
    UPDATE conversations SET current_leaf_id = (
        SELECT m.id FROM messages AS m WHERE m.conversation_id = conversations.id
        ORDER BY m.created_at DESC, m.id DESC LIMIT 1
    )
    """,
)

_SQLITE = (
    "CREATE VIRTUAL TABLE fts_messages USING fts5("
    "content, content='messages', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE fts_conversations USING fts5("
    "title, content='conversations', content_rowid='rowid',"
    " tokenize='unicode61 remove_diacritics 2')",
    """
    CREATE TRIGGER fts_messages_insert AFTER INSERT ON messages BEGIN
        INSERT INTO fts_messages(rowid, content)
            SELECT new.rowid, new.content WHERE new.status != 'streaming';
    END
    """,
    """
    CREATE TRIGGER fts_messages_delete AFTER DELETE ON messages BEGIN
        INSERT INTO fts_messages(fts_messages, rowid, content)
            SELECT 'delete', old.rowid, old.content WHERE old.status != 'streaming';
    END
    """,
    """
    CREATE TRIGGER fts_messages_update AFTER UPDATE OF content, status ON messages BEGIN
        INSERT INTO fts_messages(fts_messages, rowid, content)
            SELECT 'delete', old.rowid, old.content WHERE old.status != 'streaming';
        INSERT INTO fts_messages(rowid, content)
            SELECT new.rowid, new.content WHERE new.status != 'streaming';
    END
    """,
    """
    CREATE TRIGGER fts_conversations_insert AFTER INSERT ON conversations BEGIN
        INSERT INTO fts_conversations(rowid, title) VALUES (new.rowid, coalesce(new.title, ''));
    END
    """,
    """
    CREATE TRIGGER fts_conversations_delete AFTER DELETE ON conversations BEGIN
        INSERT INTO fts_conversations(fts_conversations, rowid, title)
            VALUES ('delete', old.rowid, coalesce(old.title, ''));
    END
    """,
    """
    CREATE TRIGGER fts_conversations_update AFTER UPDATE OF title ON conversations BEGIN
        INSERT INTO fts_conversations(fts_conversations, rowid, title)
            VALUES ('delete', old.rowid, coalesce(old.title, ''));
        INSERT INTO fts_conversations(rowid, title) VALUES (new.rowid, coalesce(new.title, ''));
    END
    """,
    "INSERT INTO fts_messages(rowid, content)"
    " SELECT rowid, content FROM messages WHERE status != 'streaming'",
    "INSERT INTO fts_conversations(rowid, title)"
    " SELECT rowid, coalesce(title, '') FROM conversations",
)

_POSTGRESQL = (
    """
    ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        CASE WHEN status = 'streaming' THEN NULL
             ELSE to_tsvector('simple', coalesce(content, '')) END
    ) STORED
    """,
    "CREATE INDEX ix_messages_search ON messages USING GIN (search_vector)",
    """
    ALTER TABLE conversations ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('simple', coalesce(title, ''))
    ) STORED
    """,
    "CREATE INDEX ix_conversations_search ON conversations USING GIN (search_vector)",
)


def upgrade() -> None:
    op.add_column("messages", sa.Column("parent_id", sa.String(36), nullable=True))
    op.add_column("conversations", sa.Column("current_leaf_id", sa.String(36), nullable=True))
    op.create_index("ix_messages_parent", "messages", ["parent_id"])
    for statement in _BACKFILL:
        op.execute(statement)
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL if postgres else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_conversations_search", "conversations")
        op.drop_index("ix_messages_search", "messages")
        op.drop_column("conversations", "search_vector")
        op.drop_column("messages", "search_vector")
    else:
        for name in ("messages", "conversations"):
            for change in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER fts_{name}_{change}")
            op.execute(f"DROP TABLE fts_{name}")
    op.drop_index("ix_messages_parent", "messages")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("current_leaf_id")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("parent_id")
