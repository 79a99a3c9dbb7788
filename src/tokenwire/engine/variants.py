"""Replies besides a send's: another reply to the same message (regenerate) and more of a
reply that was cut (continue); and what each new reply starts with: how much of the
conversation the model sees, and a title for a conversation that has none.

Regenerate adds a sibling reply under the same user message and makes it the leaf; the old
one stays. Continue puts a reply cut at the length limit, cancelled or interrupted back to
streaming, exactly as a takeover does: its event log holds its events up to the last one
before its old end again, and a run resumes from there with the provider continuing the
text (``GenerationRequest.prefix``). The new events take the seqs from the old end's on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from tokenwire.engine import replay
from tokenwire.engine.admission import Admission, Release
from tokenwire.engine.cluster import Cluster, Lease
from tokenwire.engine.references import normalize_id
from tokenwire.engine.run import Run, StopReason
from tokenwire.engine.runs import Runs
from tokenwire.engine.titles import write_title
from tokenwire.errors import BadRequest, Conflict, Unavailable
from tokenwire.ids import MessageId, UserId
from tokenwire.log.base import EventLog
from tokenwire.protocol.events import ContextInfo
from tokenwire.protocol.options import CallInfo
from tokenwire.providers.base import GenerationRequest, Provider, omitted_turns
from tokenwire.store.branches import CONTINUABLE
from tokenwire.store.records import Conversation, Message, MessageStatus, Turn
from tokenwire.store.store import Checkpoint, SQLStore

log = logging.getLogger("tokenwire.engine")

REQUEST = "request"  # reply metadata: the options its provider request is built from
CONTINUED = "continued"  # reply metadata: how many times it was continued

OnComplete = Callable[[str, tuple[CallInfo, ...]], Awaitable[None]]


class Host(Protocol):
    """What of the engine these methods use."""

    store: SQLStore
    events: EventLog
    provider: Provider
    runs: Runs
    cluster: Cluster | None
    admission: Admission | None
    _accepting: bool
    _releases: dict[MessageId, Release]
    _background: set[asyncio.Task[None]]

    def _release(self, reply_id: MessageId) -> None: ...

    async def _start(
        self, conversation: Conversation, turn: Turn, *, on_complete: OnComplete | None = None
    ) -> None: ...

    def launch(
        self,
        conversation: Conversation,
        reply: Message,
        *,
        started: float | None = None,
        resume: Checkpoint | None = None,
        owner: Lease | None = None,
        stop: StopReason | None = None,
        metadata: dict[str, Any] | None = None,
        on_complete: OnComplete | None = None,
        prepared: GenerationRequest | None = None,
    ) -> Run: ...

    def _model(self, conversation: Conversation) -> str: ...

    async def _request(self, conversation: Conversation, reply: Message) -> GenerationRequest: ...

    async def _context(
        self, conversation: Conversation, reply: Message
    ) -> tuple[ContextInfo | None, GenerationRequest | None]: ...


class Variants:
    async def regenerate(self: Host, user_id: UserId, mid: str) -> Turn:
        """A new reply to the user message that the reply ``mid`` answers, with the same
        options; it becomes the conversation's leaf and the old reply is kept."""
        old = await self.store.get_message(user_id, normalize_id(mid))
        if old.role != "assistant" or old.reply_to is None:
            raise BadRequest("only an assistant reply can be regenerated", code="not_a_reply")
        user_message = await self.store.get_message(user_id, old.reply_to)
        conversation = await self.store.get_conversation(user_id, old.conversation_id)
        async with _admitted(self, user_id) as hold:
            request = old.metadata.get(REQUEST)
            reply = await self.store.add_reply(
                user_message,
                model=self._model(conversation),
                metadata={REQUEST: request} if request else {},
            )
            turn = Turn(user_message, reply, created=True)
            hold(reply.id)
            await self._start(conversation, turn)
        return turn

    async def continue_reply(self: Host, user_id: UserId, mid: str) -> Message:
        """Have the model go on with the reply ``mid``, which ended ``length``,
        ``cancelled`` or ``interrupted``: its text grows in place. Returns the reply as it
        restarts; its ``last_seq`` is the last event its text includes, and following it
        from there gives exactly the new text."""
        reply = await self.store.get_message(user_id, normalize_id(mid))
        if reply.role != "assistant" or reply.reply_to is None:
            raise BadRequest("only an assistant reply can be continued", code="not_a_reply")
        ended = reply.status.value if reply.status.is_final else "streaming"
        if reply.status is MessageStatus.COMPLETE:
            ended = reply.finish_reason or "stop"
        if ended not in CONTINUABLE or reply.id in self.runs:
            raise Conflict(
                f"the reply ended {ended!r}; only one that ended "
                + ", ".join(repr(c) for c in CONTINUABLE)
                + " can be continued",
                code="not_continuable",
            )
        user_message = await self.store.get_message(user_id, reply.reply_to)
        conversation = await self.store.get_conversation(user_id, reply.conversation_id)
        after = reply.last_seq - 1  # the old end's seq goes to the first new event
        async with _admitted(self, user_id) as hold:
            lease = await _claim(self.cluster, reply.id) if self.cluster is not None else None
            try:
                reopened = await self.store.reopen(reply, after)
                if reopened is None:
                    raise Conflict("the reply changed meanwhile; try again", code="reply_changed")
                try:
                    await self.events.reopen(reply.id, replay.seed(reopened, user_message, after))
                except Exception as exc:
                    await self.store.finish(reply.id, replay.outcome_of(reply))
                    raise Unavailable("the event log is unavailable", retry_after=5) from exc
            except BaseException:
                if lease is not None:
                    with contextlib.suppress(Exception):
                        await lease.release()
                raise
            hold(reply.id)
            count = int(reply.metadata.get(CONTINUED, 0)) + 1
            self.launch(
                conversation,
                reopened,
                resume=Checkpoint(reply.id, reply.content, reply.marks, after),
                owner=lease,
                metadata={CONTINUED: count},
            )
        with contextlib.suppress(Unavailable):
            await self.events.announce(conversation.id, reply.id)
        return reopened

    async def _context(
        self: Host, conversation: Conversation, reply: Message
    ) -> tuple[ContextInfo | None, GenerationRequest | None]:
        """How many of the oldest turns the model will not see, when some do not fit; and
        the request built to tell, which the run then sends."""
        try:
            request = await self._request(conversation, reply)
            omitted = omitted_turns(self.provider, request)
        except Exception as exc:  # the note is worth less than the reply: never fail it
            log.warning("could not measure the context of reply %s: %s", reply.id, exc)
            return None, None
        return (ContextInfo(omitted) if omitted else None), request

    def _titling(
        self: Host, conversation: Conversation, turn: Turn, then: OnComplete | None
    ) -> OnComplete | None:
        """What runs when the reply completes: ``then``, and for a conversation with no
        title, the model writing one (in the background: the reply's end does not wait)."""
        if conversation.title is not None:
            return then

        async def complete(text: str, calls: tuple[CallInfo, ...]) -> None:
            if then is not None:
                await then(text, calls)
            task = asyncio.create_task(_title(self, conversation, turn), name="title")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        return complete


def context_metadata(context: ContextInfo | None) -> dict[str, Any] | None:
    return None if context is None else {replay.CONTEXT: {"omitted_turns": context.omitted_turns}}


async def _title(host: Host, conversation: Conversation, turn: Turn) -> None:
    try:
        branch = await host.store.history(conversation.id, turn.assistant_message.id)
        first = next((m.content for m in branch if m.role == "user"), turn.user_message.content)
        try:
            host.provider.admit()  # a title never takes a place a reply would be refused for
        except Unavailable:
            return
        title = await write_title(host.provider, first)
        if title:
            await host.store.set_title_if_unset(conversation.id, title)
    except Exception as exc:
        log.warning("could not title conversation %s: %s", conversation.id, exc)


async def _claim(cluster: Cluster, reply_id: MessageId) -> Lease:
    """The lease on a reply to continue: the run that ended it gives its lease back a moment
    after the end is written, so a continue that follows at once waits for that."""
    for _attempt in range(20):
        if await cluster.leases.acquire(reply_id):
            return Lease(cluster.leases, reply_id)
        await asyncio.sleep(0.1)
    raise Conflict("the reply is still running elsewhere; try again", code="reply_running")


@contextlib.asynccontextmanager
async def _admitted(host: Host, user_id: UserId) -> AsyncIterator[Callable[[MessageId], None]]:
    """Admit one more reply of the user's (as a send is): the block calls ``hold(reply_id)``
    once its reply exists, and the place is then given back when the run ends."""
    if not host._accepting:
        raise Unavailable("the server is shutting down", retry_after=5)
    release = await host.admission.admit(user_id) if host.admission else None
    held: list[MessageId] = []

    def hold(reply_id: MessageId) -> None:
        nonlocal release
        if release is not None:
            host._releases[reply_id], release = release, None
        held.append(reply_id)

    try:
        host.provider.admit()
        yield hold
    except BaseException:
        for reply_id in held:
            host._release(reply_id)
        raise
    finally:
        if release is not None:
            release()
