"""Browser sessions: a random secret in an HttpOnly cookie, its hash in a row.

Signing out deletes the row, so a copied cookie stops working at once. A session ends on
its own after ``SESSION_TTL``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from tokenwire.ids import UserId, uuid7
from tokenwire.store import convert
from tokenwire.store.base import Queries
from tokenwire.store.records import User
from tokenwire.store.tables import SessionRow, UserRow
from tokenwire.store.users import hash_token

SESSION_TTL = timedelta(days=30)


class SessionQueries(Queries):
    async def create_session(self, user_id: UserId, ttl: timedelta = SESSION_TTL) -> str:
        """A new session for ``user_id``; returns its secret (only the hash is kept)."""
        secret = "tws_" + secrets.token_urlsafe(32)
        now = convert.utcnow()
        row = SessionRow(
            id=uuid7(),
            user_id=user_id,
            secret_hash=hash_token(secret),
            created_at=now,
            expires_at=now + ttl,
        )
        async with self._session.begin() as s:
            s.add(row)
        return secret

    async def session_user(self, secret: str) -> User | None:
        """The user of a live session; ``None`` for an unknown, revoked or expired one."""
        async with self._session() as s:
            query = (
                select(UserRow, SessionRow.expires_at)
                .join(SessionRow, SessionRow.user_id == UserRow.id)
                .where(SessionRow.secret_hash == hash_token(secret))
            )
            found = (await s.execute(query)).one_or_none()
        if found is None or convert.aware(found[1]) <= convert.utcnow():
            return None
        return convert.user(found[0])

    async def revoke_session(self, secret: str) -> bool:
        """End a session; whether there was one."""
        async with self._session.begin() as s:
            result = await s.execute(
                delete(SessionRow).where(SessionRow.secret_hash == hash_token(secret))
            )
        return bool(getattr(result, "rowcount", 0))
