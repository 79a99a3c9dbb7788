"""Alembic environment: always handed a live connection by ``tokenwire.store.migrate``."""

from __future__ import annotations

from alembic import context

from tokenwire.store.tables import Base, in_models

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through `tokenwire db upgrade`, which provides the connection"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    include_name=in_models,
)
with context.begin_transaction():
    context.run_migrations()
