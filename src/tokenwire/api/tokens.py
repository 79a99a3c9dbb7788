"""A short-lived cache of token -> user, so a stream of requests does not query the store
for the same token each time.

Entries live ``ttl_s`` seconds: a token replaced or a user removed elsewhere stops working
within that time. Only successful lookups are kept; a wrong token always reaches the store.
Requests that miss on the same token at once share one lookup: when an entry lapses under a
burst of a client's requests, the store is asked once, not once per request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

from tokenwire.store import SQLStore, User


class TokenCache:
    def __init__(self, store: SQLStore, *, ttl_s: float = 5.0, size: int = 4096) -> None:
        self._store = store
        self._ttl = ttl_s
        self._size = size
        self._entries: OrderedDict[str, tuple[float, User]] = OrderedDict()
        self._pending: dict[str, asyncio.Future[User | None]] = {}

    async def user(self, token: str) -> User | None:
        now = time.monotonic()
        entry = self._entries.get(token)
        if entry is not None and entry[0] > now:
            self._entries.move_to_end(token)
            return entry[1]
        pending = self._pending.get(token)
        if pending is not None:
            # shield: a request that goes away does not cancel the others' lookup.
            return await asyncio.shield(pending)
        lookup = asyncio.ensure_future(self._lookup(token, now))
        self._pending[token] = lookup
        lookup.add_done_callback(lambda _: self._pending.pop(token, None))
        return await asyncio.shield(lookup)

    async def _lookup(self, token: str, now: float) -> User | None:
        user = await self._store.authenticate(token)
        if user is None:
            self._entries.pop(token, None)
            return None
        self._entries[token] = (now + self._ttl, user)
        self._entries.move_to_end(token)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return user
