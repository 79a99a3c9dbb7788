"""A conversation's messages as a tree: each message's parent, each parent's children.

Messages form a tree by ``parent_id``: a reply follows its user message, a user message
the reply before it on its branch. Messages with one parent are siblings, alternative
branches, in creation order. A branch is the path from the root to one message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tokenwire.ids import MessageId
from tokenwire.store.tables import MessageRow

T: Table = MessageRow.__table__  # type: ignore[assignment]


@dataclass(slots=True)
class Tree:
    parents: dict[MessageId, MessageId | None] = field(default_factory=dict)
    children: dict[MessageId | None, list[MessageId]] = field(default_factory=dict)

    def add(self, mid: MessageId, parent: MessageId | None) -> None:
        self.parents[mid] = parent
        self.children.setdefault(parent, []).append(mid)

    def __contains__(self, mid: object) -> bool:
        return mid in self.parents

    def branch(self, mid: MessageId) -> list[MessageId]:
        """The ids from the root to ``mid``."""
        path: list[MessageId] = []
        current: MessageId | None = mid
        while current is not None and current in self.parents and len(path) <= len(self.parents):
            path.append(current)
            current = self.parents[current]
        path.reverse()
        return path

    def newest_leaf(self, mid: MessageId) -> MessageId:
        """The end of the branch through ``mid``: ``mid`` if nothing follows it, else on
        through the newest child at each step."""
        current = mid
        for _ in range(len(self.parents)):
            after = self.children.get(current)
            if not after:
                break
            current = after[-1]
        return current

    def siblings(self, mid: MessageId) -> list[MessageId]:
        return self.children.get(self.parents.get(mid), [mid])


async def load_tree(conn: AsyncConnection, cid: str) -> Tree:
    """The shape of the conversation's tree: ids and parents only, in creation order."""
    query = (
        select(T.c.id, T.c.parent_id)
        .where(T.c.conversation_id == cid)
        .order_by(T.c.created_at, T.c.id)
    )
    tree = Tree()
    for mid, parent in (await conn.execute(query)).all():
        tree.add(MessageId(mid), MessageId(parent) if parent else None)
    return tree
