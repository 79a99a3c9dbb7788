"""How a request names its conversation, turned into where the store puts the turn.

A ``ConversationRef`` is an id, a client's own key or the history a stateless client
resent. Ids are UUIDs in any case (Swift's ``uuidString`` is upper case); keys are
prefixed with their dialect and unique per user in the store, so one name is one
conversation on every instance and after a restart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import msgspec

from tokenwire.ids import is_uuid
from tokenwire.protocol.options import (
    ByHistory,
    ById,
    ByKey,
    ConversationRef,
    PriorTurn,
    TurnOptions,
)
from tokenwire.store.turns import NewConversation, TurnTarget

DIALECT = "_dialect"  # conversation metadata: the client protocol that made it


def normalize_id(text: str) -> str:
    """An id as stored: UUIDs are written in lower case, whatever case a client sends."""
    return text.lower() if is_uuid(text) else text


def dialect_key(kind: str, key: str) -> str:
    return f"{kind}:{key}"


def history_digest(system: str | None, turns: Sequence[PriorTurn]) -> str:
    """A digest of a conversation as a stateless client holds it: equal digests, equal
    histories."""
    payload = msgspec.json.encode([system, [_digested(t) for t in turns]])
    return hashlib.sha256(payload).hexdigest()


def _digested(turn: PriorTurn) -> list[Any]:
    # Tool calls and results add to a turn's entry only when present: digests of histories
    # without tools stay what they were.
    entry: list[Any] = [turn.role, turn.content, list(turn.images)]
    if turn.tool_calls:
        entry.append([[c.id, c.name, c.arguments] for c in turn.tool_calls])
    if turn.tool_call_id is not None:
        entry.append(turn.tool_call_id)
    return entry


def title_from(text: str) -> str | None:
    return " ".join(text.split())[:80] or None


def target(ref: ConversationRef, prompt: str, options: TurnOptions) -> TurnTarget:
    """Where the turn of ``prompt`` goes. A conversation the ref names but that does not
    exist yet is made from ``options`` (title, persona, model, system, metadata)."""
    if isinstance(ref, ById):
        return TurnTarget(cid=normalize_id(ref.id))
    metadata: dict[str, Any] = {**options.metadata, DIALECT: ref.kind}
    if options.system:
        metadata["system"] = options.system
    if isinstance(ref, ByKey):
        key = dialect_key(ref.kind, ref.key)
        new = NewConversation(
            key=key,
            kind=ref.kind,
            title=options.title or title_from(prompt),
            persona=options.persona,
            model=options.model,
            metadata=metadata,
            history=ref.history,
        )
        # A key that is the id of one of the user's conversations names that one: any
        # dialect can continue a conversation started elsewhere.
        cid = normalize_id(ref.key) if is_uuid(ref.key) else None
        return TurnTarget(cid=cid, key=key, new=new)
    assert isinstance(ref, ByHistory)
    first = next((t.content for t in ref.history if t.role == "user"), prompt)
    new = NewConversation(
        kind=ref.kind,
        title=options.title or title_from(first),
        persona=options.persona,
        model=options.model,
        metadata=metadata,
        history=ref.history,
    )
    if not ref.history:
        return TurnTarget(new=new)
    # Several results of one reply's tool calls: the conversation holds the reply, and the
    # results but the last (the prompt) come with this turn.
    kept, tail = _tool_tail(ref.history)
    if tail:
        known = dialect_key(ref.kind, history_digest(ref.system, kept))
        return TurnTarget(key=known, new=new, tail=tail)
    return TurnTarget(key=history_key(ref), new=new)


def _tool_tail(
    history: Sequence[PriorTurn],
) -> tuple[Sequence[PriorTurn], Sequence[PriorTurn]]:
    """``history`` split before the tool results that end it."""
    cut = len(history)
    while cut and history[cut - 1].role == "tool":
        cut -= 1
    return history[:cut], history[cut:]


def history_key(ref: ByHistory) -> str:
    return dialect_key(ref.kind, history_digest(ref.system, ref.history))


def continued_key(ref: ByHistory, asked: PriorTurn, reply: PriorTurn) -> str:
    """The key of the conversation once ``reply`` answered ``asked`` (the prompt): what the
    client's next request will resend."""
    return dialect_key(ref.kind, history_digest(ref.system, (*ref.history, asked, reply)))
