"""Users and their tokens. Only a token's hash is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import func, select, update

from tokenwire.ids import UserId, uuid7
from tokenwire.store import convert
from tokenwire.store.base import Queries
from tokenwire.store.records import User
from tokenwire.store.tables import UserRow


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "tw_" + secrets.token_urlsafe(32)


class UserQueries(Queries):
    async def create_user(self, name: str, token: str | None = None) -> tuple[User, str]:
        token = token or new_token()
        row = UserRow(
            id=uuid7(), name=name, token_hash=hash_token(token), created_at=convert.utcnow()
        )
        async with self._session.begin() as s:
            s.add(row)
        return convert.user(row), token

    async def set_token(self, user_id: UserId, token: str) -> None:
        async with self._session.begin() as s:
            await s.execute(
                update(UserRow).where(UserRow.id == user_id).values(token_hash=hash_token(token))
            )

    async def user_by_name(self, name: str) -> User | None:
        async with self._session() as s:
            row = (
                await s.execute(select(UserRow).where(UserRow.name == name))
            ).scalar_one_or_none()
        return convert.user(row) if row else None

    async def authenticate(self, token: str) -> User | None:
        async with self._session() as s:
            query = select(UserRow).where(UserRow.token_hash == hash_token(token))
            row = (await s.execute(query)).scalar_one_or_none()
        return convert.user(row) if row else None

    async def count_users(self) -> int:
        async with self._session() as s:
            return int((await s.execute(select(func.count()).select_from(UserRow))).scalar_one())
