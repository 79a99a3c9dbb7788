"""A conversation out and back in: ``GET /api/v1/conversations/{cid}/export`` (the whole
tree as JSON, or the current branch as Markdown) and ``POST /api/v1/conversations/import``
(that JSON, stored as a new conversation)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from tokenwire.api.deps import CurrentUser, EngineDep
from tokenwire.api.resources import Resource, answers, conversation, message
from tokenwire.errors import BadRequest, Unprocessable
from tokenwire.ids import ConversationId, MessageId, UserId, uuid7
from tokenwire.protocol import resources as wire
from tokenwire.protocol.decoding import decode_json
from tokenwire.store import convert
from tokenwire.store.records import Conversation, Message, MessageStatus

router = APIRouter(prefix="/api/v1", tags=["conversations"])

MAX_IMPORTED_MESSAGES = 20_000


@router.get(
    "/conversations/{cid}/export",
    response_model=None,
    responses={
        200: {
            "description": "The whole tree (JSON) or the current branch (Markdown)",
            "content": {
                **answers(wire.ConversationExport)[200]["content"],
                "text/markdown": {},
            },
        }
    },
)
async def export_conversation(
    cid: str,
    user: CurrentUser,
    engine: EngineDep,
    format: Literal["json", "markdown"] = Query(default="json"),
) -> Response:
    if format == "markdown":
        found = await engine.conversation(user.id, cid)
        branch = await engine.messages(user.id, found.id, limit=MAX_IMPORTED_MESSAGES)
        name = _filename(found, "md")
        return Response(
            markdown(found, branch.items),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    found, messages = await engine.export(user.id, cid)
    body = wire.ConversationExport(
        conversation=conversation(found),
        messages=[message(m) for m in messages],
        exported_at=convert.isoformat(convert.utcnow()),
    )
    return Resource(
        body, headers={"Content-Disposition": f'attachment; filename="{_filename(found, "json")}"'}
    )


_export = msgspec.json.Decoder(wire.ConversationExport)


@router.post(
    "/conversations/import",
    status_code=201,
    response_model=None,
    responses=answers(wire.Conversation, 201),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ConversationExport"}}
            },
        }
    },
)
async def import_conversation(request: Request, user: CurrentUser, engine: EngineDep) -> Resource:
    """Store an export (``format=json``) as a new conversation of the user's: new ids, the
    same tree, leaf, texts and metadata."""
    try:
        exported = decode_json(await request.body(), _export)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"not a conversation export: {exc}", code="invalid_export") from exc
    if exported.format != wire.EXPORT_FORMAT or exported.version != 1:
        raise Unprocessable(
            f"format must be {wire.EXPORT_FORMAT!r} version 1, not"
            f" {exported.format!r} version {exported.version}",
            code="invalid_export",
        )
    if len(exported.messages) > MAX_IMPORTED_MESSAGES:
        raise Unprocessable(
            f"{len(exported.messages)} messages; at most {MAX_IMPORTED_MESSAGES} can be imported",
            code="invalid_export",
        )
    made = await engine.import_conversation(
        user.id, _conversation(user.id, exported.conversation), _messages(user.id, exported)
    )
    return Resource(conversation(made), 201)


def markdown(found: Conversation, messages: list[Message]) -> str:
    """The branch as a Markdown document: a heading per message, its text as written."""
    title = found.title or "Untitled conversation"
    lines = [f"# {title}", ""]
    for m in messages:
        who = "User" if m.role == "user" else f"Assistant ({m.model})" if m.model else "Assistant"
        lines += [f"## {who} · {convert.isoformat(m.created_at)}", "", m.content.rstrip(), ""]
        if m.role == "assistant" and m.finish_reason == "length":
            lines += ["*(cut at the length limit)*", ""]
    return "\n".join(lines)


def _filename(found: Conversation, extension: str) -> str:
    stem = "".join(c if c.isalnum() else "-" for c in (found.title or "conversation"))
    return f"{stem.strip('-')[:60] or 'conversation'}.{extension}"


def _time(text: str, field: str) -> datetime:
    if not text:
        return convert.utcnow()
    try:
        return convert.aware(datetime.fromisoformat(text))
    except ValueError as exc:
        raise Unprocessable(f"{field}: {text!r} is not an ISO time", code="invalid_export") from exc


def _conversation(user_id: UserId, c: wire.Conversation) -> Conversation:
    return Conversation(
        id=ConversationId(uuid7()),
        user_id=user_id,
        title=c.title,
        persona=c.persona,
        model=c.model,
        metadata=dict(c.metadata),
        created_at=_time(c.created_at, "conversation.created_at"),
        updated_at=convert.utcnow(),
        kind=c.kind,
        current_leaf_id=MessageId(c.current_leaf_id) if c.current_leaf_id else None,
    )


def _messages(user_id: UserId, exported: wire.ConversationExport) -> list[Message]:
    seen: set[str] = set()
    out: list[Message] = []
    for index, m in enumerate(exported.messages):
        where = f"messages[{index}]"
        if m.role not in ("user", "assistant"):
            raise Unprocessable(f"{where}.role must be user or assistant", code="invalid_export")
        if m.id in seen:
            raise Unprocessable(f"{where}.id {m.id!r} appears twice", code="invalid_export")
        if m.parent_id is not None and m.parent_id not in seen:
            raise Unprocessable(
                f"{where}.parent_id {m.parent_id!r} names no earlier message",
                code="invalid_export",
            )
        seen.add(m.id)
        # One delta with the whole text: a replay from the store shows it, and a continue
        # goes on after it.
        text = m.role == "assistant" and bool(m.content)
        out.append(
            Message(
                id=MessageId(m.id),
                conversation_id=ConversationId(""),
                user_id=user_id,
                role=m.role,
                content=m.content,
                status=MessageStatus(m.status.value),
                created_at=_time(m.created_at, f"{where}.created_at"),
                updated_at=_time(m.updated_at, f"{where}.updated_at"),
                reply_to=MessageId(m.reply_to) if m.reply_to else None,
                model=m.model,
                finish_reason=m.finish_reason,
                usage=m.usage,
                timings=m.timings,
                error=m.error,
                metadata=dict(m.metadata),
                images=tuple(m.images),
                marks=((1, len(m.content)),) if text else (),
                last_seq=2 if text else 1 if m.role == "assistant" else 0,
                parent_id=MessageId(m.parent_id) if m.parent_id else None,
            )
        )
    return out
