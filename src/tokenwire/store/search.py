"""Full-text search over a user's messages and conversation titles.

SQLite: the FTS5 tables ``fts_messages`` and ``fts_conversations`` (external content,
kept by triggers), ranked by bm25. PostgreSQL: the generated ``search_vector`` columns
(``to_tsvector('simple', ...)``, GIN-indexed), ranked by ``ts_rank``. Both made by the
migrations. Every word of the query must match, each as a word prefix (``tok`` finds
"tokens"). Ownership is part of the query: another user's rows are never candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from tokenwire.ids import ConversationId, MessageId, UserId
from tokenwire.store.base import Queries

_WORD = re.compile(r"[^\W_]+")  # letters and digits: what both engines index as words
SNIPPET_CHARS = 160


@dataclass(frozen=True, slots=True)
class Hit:
    """One match: a message (``message_id``) or a conversation's title (no message)."""

    conversation_id: ConversationId
    conversation_title: str | None
    message_id: MessageId | None
    role: str | None
    snippet: str
    rank: float


def words(query: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(query)][:16]


_SQLITE_MESSAGES = """
SELECT m.id, m.conversation_id, m.role, m.content, c.title, bm25(fts_messages) AS score
FROM fts_messages JOIN messages AS m ON m.rowid = fts_messages.rowid
JOIN conversations AS c ON c.id = m.conversation_id
WHERE fts_messages MATCH :match AND m.user_id = :uid
ORDER BY score LIMIT :limit
"""
_SQLITE_TITLES = """
SELECT c.id, c.title, bm25(fts_conversations) AS score
FROM fts_conversations JOIN conversations AS c ON c.rowid = fts_conversations.rowid
WHERE fts_conversations MATCH :match AND c.user_id = :uid
ORDER BY score LIMIT :limit
"""
_PG_MESSAGES = """
SELECT m.id, m.conversation_id, m.role, m.content, c.title,
       ts_rank(m.search_vector, to_tsquery('simple', :match)) AS score
FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id
WHERE m.search_vector @@ to_tsquery('simple', :match) AND m.user_id = :uid
ORDER BY score DESC LIMIT :limit
"""
_PG_TITLES = """
SELECT c.id, c.title, ts_rank(c.search_vector, to_tsquery('simple', :match)) AS score
FROM conversations AS c
WHERE c.search_vector @@ to_tsquery('simple', :match) AND c.user_id = :uid
ORDER BY score DESC LIMIT :limit
"""


class SearchQueries(Queries):
    async def search(self, user_id: UserId, query: str, *, limit: int = 20) -> list[Hit]:
        """The user's best ``limit`` hits for ``query``, best first: titles weigh as much as
        the best message, and come first on a tie."""
        terms = words(query)
        if not terms:
            return []
        postgres = self.engine.dialect.name == "postgresql"
        if postgres:
            match = " & ".join(f"{t}:*" for t in terms)
            sql_messages, sql_titles = _PG_MESSAGES, _PG_TITLES
        else:
            match = " ".join(f'"{t}"*' for t in terms)
            sql_messages, sql_titles = _SQLITE_MESSAGES, _SQLITE_TITLES
        params: dict[str, Any] = {"match": match, "uid": user_id, "limit": limit}
        async with self.engine.connect() as conn:
            titles = (await conn.execute(text(sql_titles), params)).all()
            messages = (await conn.execute(text(sql_messages), params)).all()
        # Higher is better on both engines from here (bm25 is lower-is-better).
        hits = [
            Hit(
                ConversationId(row.id),
                row.title,
                None,
                None,
                row.title or "",
                _score(row.score, postgres) + 1e-9,
            )
            for row in titles
        ]
        hits += [
            Hit(
                ConversationId(row.conversation_id),
                row.title,
                MessageId(row.id),
                row.role,
                snippet(row.content, terms),
                _score(row.score, postgres),
            )
            for row in messages
        ]
        hits.sort(key=lambda h: h.rank, reverse=True)
        return hits[:limit]


def _score(value: Any, postgres: bool) -> float:
    score = float(value or 0.0)
    return score if postgres else -score


def snippet(content: str, terms: list[str], width: int = SNIPPET_CHARS) -> str:
    """Plain text around the first word that matches, ``…`` where it was cut."""
    flat = " ".join(content.split())
    lowered = flat.lower()
    first = min(
        (m.start() for t in terms if (m := re.search(rf"\b{re.escape(t)}", lowered))),
        default=0,
    )
    start = max(0, first - width // 3)
    if start:
        space = flat.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and first - space < width else start
    end = min(len(flat), start + width)
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > first else end
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")
