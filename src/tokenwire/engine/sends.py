"""What a send asks for, before and after its turn is written: the checks that refuse it
with nothing stored, how its prompt is stored, what its reply keeps of its options (the
provider's request is rebuilt from them, on any instance), and the name a conversation sent
by its whole history is found by next time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from tokenwire.engine import references
from tokenwire.engine.config import EngineConfig
from tokenwire.engine.variants import REQUEST
from tokenwire.errors import BadRequest, PayloadTooLarge, Unprocessable
from tokenwire.protocol.images import validate_images
from tokenwire.protocol.options import ByHistory, CallInfo, PriorTurn, TurnOptions
from tokenwire.providers.base import Provider


def check_content(content: str, config: EngineConfig, *, empty_ok: bool = False) -> None:
    if not empty_ok and not content.strip():
        raise BadRequest("content must not be empty", code="empty_content")
    limit = config.max_content_chars
    if len(content) > limit:
        raise PayloadTooLarge(
            f"content is {len(content)} characters; the limit is {limit}",
            code="content_too_long",
        )


def checked_images(images: Sequence[str], config: EngineConfig, provider: Provider) -> list[str]:
    if len(images) > config.max_images_per_message:
        raise PayloadTooLarge(
            f"{len(images)} images; the limit is {config.max_images_per_message} per message",
            code="too_many_images",
        )
    if not images:
        return []
    if not provider.supports_images:
        raise Unprocessable(
            f"the model {provider.model} does not take images",
            code="images_unsupported",
        )
    return validate_images(images, max_bytes=config.max_image_bytes)


def history_key(ref: ByHistory, asked: PriorTurn) -> Callable[[str, tuple[CallInfo, ...]], str]:
    """The name of a ``ByHistory`` conversation once its reply completes: the digest of the
    history the client then holds, so that its next request continues it (on any instance,
    after a restart)."""

    def key(reply: str, calls: tuple[CallInfo, ...]) -> str:
        return references.continued_key(ref, asked, PriorTurn("assistant", reply, tool_calls=calls))

    return key


def prompt_kind(options: TurnOptions) -> dict[str, Any]:
    """How the prompt is stored: a user message, or a tool's result naming its call."""
    if options.tool_call_id is None:
        return {}
    return {"role": "tool", "metadata": {"tool_call_id": options.tool_call_id}}


def parent(parent_id: str | None) -> str | None:
    return None if parent_id is None else references.normalize_id(parent_id)


def request_metadata(options: TurnOptions) -> dict[str, Any]:
    """What the reply row keeps of the options: those the provider's request is built from.
    The rest is stored elsewhere (images with the user message, model in its column) or
    shapes the conversation."""
    kept = msgspec.structs.replace(
        options,
        model=None,
        persona=None,
        system=None,
        title=None,
        images=(),
        parent_id=None,
        client_message_id=None,
        metadata={},
    )
    request = msgspec.to_builtins(kept)
    return {REQUEST: request} if request else {}
