"""A short-lived cache of token -> user (and session secret -> user), so a stream of
requests does not query the store for the same credential each time.

Entries live ``ttl_s`` seconds: a token replaced, a user removed or a session revoked on
another instance stops working within that time; a session revoked here stops at once.
Only successful lookups are kept; a wrong credential always reaches the store. Requests that
miss on the same credential at once share one lookup: when an entry lapses under a burst of
a client's requests, the store is asked once, not once per request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from tokenwire.store import SQLStore, User


class TokenCache:
    def __init__(self, store: SQLStore, *, ttl_s: float = 5.0, size: int = 4096) -> None:
        self._store = store
        self._ttl = ttl_s
        self._size = size
        self._entries: OrderedDict[str, tuple[float, User]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[User | None]] = {}

    async def user(self, token: str) -> User | None:
        return await self._lookup("t:" + token, token, self._store.authenticate)

    async def session_user(self, secret: str) -> User | None:
        return await self._lookup("s:" + secret, secret, self._store.session_user)

    def forget_session(self, secret: str) -> None:
        self._entries.pop("s:" + secret, None)

    async def _lookup(
        self, key: str, credential: str, find: Callable[[str], Awaitable[User | None]]
    ) -> User | None:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            self._entries.move_to_end(key)
            return entry[1]
        pending = self._pending.get(key)
        if pending is not None:
            # shield: a request that goes away does not cancel the others' lookup.
            return await asyncio.shield(pending)
        lookup = asyncio.ensure_future(self._find(key, credential, find, now))
        self._pending[key] = lookup
        lookup.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(lookup)

    async def _find(
        self,
        key: str,
        credential: str,
        find: Callable[[str], Awaitable[User | None]],
        now: float,
    ) -> User | None:
        user = await find(credential)
        if user is None:
            self._entries.pop(key, None)
            return None
        self._entries[key] = (now + self._ttl, user)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return user
