"""conversations: kind and key, a client's own name for a conversation

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("kind", sa.String(32), nullable=True))
        batch.add_column(sa.Column("key", sa.String(300), nullable=True))
        batch.create_unique_constraint("uq_conversations_user_key", ["user_id", "key"])
    op.create_index(
        "ix_conversations_user_kind", "conversations", ["user_id", "kind", "updated_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_user_kind", "conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint("uq_conversations_user_key", type_="unique")
        batch.drop_column("key")
        batch.drop_column("kind")
