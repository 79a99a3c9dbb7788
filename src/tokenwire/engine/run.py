"""The turn runner: one task per reply, independent of any connection.

It pulls deltas from the provider, appends events to the log, keeps the text so far for
the checkpointer, and writes how the reply ended. Cancelling it (explicit stop, shutdown)
cancels only the inner pump task, so the runner itself always gets to save the partial.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

import msgspec

from tokenwire.engine import ending
from tokenwire.engine.hooks import Hooks, ReplyEnd, ReplyInfo
from tokenwire.engine.transcript import call_infos
from tokenwire.errors import LeaseLost, TokenwireError, Unavailable
from tokenwire.ids import ConversationId, MessageId
from tokenwire.log.base import EventLog, Fence, StreamLost
from tokenwire.protocol.events import (
    ErrorInfo,
    Event,
    FinishReason,
    MessageDelta,
    MessageEnd,
    MessageError,
    MessageQueued,
    MessageToolCall,
    Timings,
    TokenLogprob,
    TopLogprob,
    Usage,
)
from tokenwire.protocol.options import CallInfo
from tokenwire.providers.base import (
    Delta,
    Done,
    Fallback,
    GenerationRequest,
    Provider,
    Queued,
    ToolCallDelta,
)
from tokenwire.store.records import Message, MessageStatus
from tokenwire.store.store import Checkpoint, Outcome, SQLStore

log = logging.getLogger("tokenwire.run")

StopReason = Literal["cancelled", "interrupted"]


class Ownership(Protocol):
    """The lease on a reply when several instances share it (``engine/cluster.py``)."""

    @property
    def fence(self) -> Fence:
        """The condition every append of the run carries (``log.base.Fence``)."""
        ...

    async def holds(self) -> bool:
        """Whether this instance still owns the reply: checked before its end is written."""
        ...

    async def reclaim(self) -> bool:
        """Take the lease again if nobody holds it (Redis lost it, or it lapsed while no one
        took the reply over); whether this instance holds it now."""
        ...

    async def release(self) -> None: ...


class Run:
    def __init__(
        self,
        *,
        message_id: MessageId,
        conversation_id: ConversationId,
        provider: Provider,
        store: SQLStore,
        events: EventLog,
        request: Callable[[], Awaitable[GenerationRequest]],
        started: float,
        on_done: Callable[[Run], None],
        info: ReplyInfo,
        hooks: Hooks,
        resume: Checkpoint | None = None,
        owner: Ownership | None = None,
        on_complete: Callable[[str, tuple[CallInfo, ...]], Awaitable[None]] | None = None,
        key: Callable[[str, tuple[CallInfo, ...]], str] | None = None,
        reply: Message | None = None,
    ) -> None:
        """``resume``: the reply so far, when this run continues one that another instance
        started (its seq, text and marks go on from there). ``owner``: the reply's lease.
        ``on_complete``: called with the text and tool calls of a reply that completed, after
        its row is written and before its end is told to anyone. ``key``: the name the
        conversation takes when the reply completes, from its text and tool calls, written
        in the transaction of the reply's end. ``reply``: the row as the run started it, for
        readers that need the reply itself rather than its text (``Reads.find_reply``)."""
        self.message_id = message_id
        self.reply = reply
        self.info = info
        self._hooks = hooks
        self._last_token = 0.0
        self.conversation_id = conversation_id
        self._provider = provider
        self._store = store
        self._log = events
        self._request = request
        self._started = started
        self._on_done = on_done
        self.seq = 0  # message.start, seq 0, is appended by the engine before the run starts
        self._parts: list[str] = []
        self._length = 0
        self._marks: list[tuple[int, int]] = []
        self._owner = owner
        self._on_complete = on_complete
        self._key = key
        # What the last checkpoint saved: how many parts and marks, and up to which seq. A
        # fresh reply's row is empty at seq 0, so its checkpoints only ever append. ``None``:
        # the row's state is unknown (a resumed reply, a failed write), so the next
        # checkpoint writes the reply whole.
        self._saved_parts = 0
        self._saved_marks = 0
        self._saved_seq: int | None = 0
        if resume is not None:
            self.seq = resume.last_seq
            self._parts = [resume.content] if resume.content else []
            self._length = len(resume.content)
            self._marks = list(resume.marks)
            self._saved_seq = None
        self._dirty = False
        self._first_token: float | None = None
        self._done: Done | None = None
        self._stop: StopReason | None = None
        self._pump: asyncio.Task[None] | None = None
        self._appending = False
        self._stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.metadata: dict[str, object] = {}
        self.written_by: str | None = None  # the model that took the reply over (fallback)

    # control -----------------------------------------------------------------------------

    def start(self) -> None:
        self.task = asyncio.create_task(self._main(), name=f"run {self.message_id}")

    def stop(self, reason: StopReason) -> None:
        """Stop generating now; the partial reply is kept. The first reason given wins."""
        if self._stop is None:
            self._stop = reason
        if reason == "interrupted":
            self._stopping.set()  # a run still saving its end through an outage gives up
        if self._pump is not None and not self._appending:
            self._pump.cancel()  # else _deliver stops the pump once its append is done

    @property
    def content(self) -> str:
        return "".join(self._parts)

    def take_checkpoint(self) -> Checkpoint | None:
        """What changed since the last checkpoint, if anything: the text and marks after it,
        to append (O(new text)), or the reply whole when the row's state is not known."""
        if not self._dirty:
            return None
        self._dirty = False
        after = self._saved_seq
        if after is None:
            checkpoint = Checkpoint(self.message_id, self.content, tuple(self._marks), self.seq)
        else:
            text = "".join(self._parts[self._saved_parts :])
            marks = tuple(self._marks[self._saved_marks :])
            checkpoint = Checkpoint(self.message_id, text, marks, self.seq, after=after)
        self._saved_parts = len(self._parts)
        self._saved_marks = len(self._marks)
        self._saved_seq = self.seq
        return checkpoint

    def checkpoint_failed(self) -> None:
        """The last checkpoint was not written: the next one writes the reply whole."""
        self._saved_seq = None
        self._dirty = True

    async def _append_terminal(self, terminal: Event) -> None:
        # Readers wait for this event: worth a few tries across a short outage of the log.
        for delay in (0.5, 1.0, 2.0, None):
            try:
                await self._append(terminal)
                return
            except StreamLost:
                return  # its readers found the stream gone and finish from the row
            except LeaseLost:
                # Taken over while this run saved its end: the new owner ends the stream.
                log.warning("reply %s is owned elsewhere now; its end is theirs", self.message_id)
                return
            except Unavailable as exc:
                if delay is None:
                    # The row holds the end; readers finish from the store once the log's
                    # stream expires. An outage of the log is not a fault of the server.
                    log.warning("could not append the end of reply %s: %s", self.message_id, exc)
                    return
                await asyncio.sleep(delay)
            except Exception as exc:
                log.error("could not append the end of reply %s: %s", self.message_id, exc)
                return

    async def _still_owner(self) -> bool:
        if self._owner is None:
            return True
        try:
            return await self._owner.holds() or await self._reclaimed()
        except Exception:
            return True  # Redis unreachable: the database decides (only streaming rows end)

    async def _reclaimed(self) -> bool:
        """The lease is gone but nobody else holds it: this run, which knows every event it
        appended, takes it back rather than leave the reply to a sweeper that would end it at
        its last checkpoint, short of what clients were sent."""
        if self._owner is None or not await self._owner.reclaim():
            return False
        log.warning(
            "the lease of reply %s had vanished; this instance holds it again", self.message_id
        )
        return True

    # the work ----------------------------------------------------------------------------

    async def _append(self, event: Event) -> None:
        fence = self._owner.fence if self._owner else None
        try:
            await self._log.append(event, fence=fence)
        except LeaseLost:
            if not await self._reclaimed():
                raise
            await self._log.append(event, fence=fence)

    async def _deliver(self, event: Event) -> None:
        """Append one event of the pump, which already counted it in ``seq`` (and its text).

        A stop waits for an append under way: cancelled half-way, a remote log could keep an
        event this run does not count, or the reverse. An append the log refused (``ValueError``,
        ``LeaseLost``) is taken back: the terminal event's seq is then the log's next one.
        One that failed otherwise stays counted: Redis may have taken it before the answer
        was lost (killed, or the connection dropped), and followers may have shown it, so the
        stored reply must hold it. Had it not landed, the terminal event comes one seq past
        the log's next; the log takes that gap for a lost stream, and readers finish from the
        stored reply, which has the event.
        """
        self._appending = True
        try:
            await self._append(event)
        except (ValueError, LeaseLost):
            self.seq -= 1
            if isinstance(event, MessageDelta):
                self._parts.pop()
                self._length -= len(event.text)
                self._marks.pop()
            if self._saved_seq is not None and self._saved_seq > self.seq:
                # A checkpoint taken during the append saved the event taken back.
                self.checkpoint_failed()
                self._saved_parts = self._saved_marks = 0
            raise
        finally:
            self._appending = False
        if self._stop is not None:
            raise asyncio.CancelledError

    async def _generate(self) -> None:
        request = await self._request()
        async for item in self._provider.stream(request):
            if isinstance(item, ToolCallDelta):
                await self._tool_call(item)
            elif isinstance(item, Delta):
                if not item.text:
                    continue
                now = time.monotonic()
                if self._first_token is None:
                    self._first_token = now
                    self._hooks.first_token(self.info, now - self._started)
                else:
                    self._hooks.token(self.info, now - self._last_token)
                self._last_token = now
                self.seq += 1
                self._parts.append(item.text)
                self._length += len(item.text)
                self._marks.append((self.seq, self._length))
                self._dirty = True
                logprobs = _logprobs(item) if item.logprobs else msgspec.UNSET
                await self._deliver(MessageDelta(self.message_id, self.seq, item.text, logprobs))
            elif isinstance(item, Fallback):
                self._hooks.fallback(self.info, item.from_provider, item.to_provider)
                # The reply is labelled with what wrote it: the last provider of the chain.
                self.metadata["provider"] = item.to_provider
                self.written_by = item.to_model or self.written_by
                fallbacks = self.metadata.setdefault("fallbacks", [])
                assert isinstance(fallbacks, list)
                fallbacks.append(
                    {
                        "from": item.from_provider,
                        "to": item.to_provider,
                        "reason": item.reason,
                        "after_chars": item.after_chars,
                    }
                )
            elif isinstance(item, Queued):
                self.seq += 1
                self._dirty = True
                await self._deliver(MessageQueued(self.message_id, self.seq, item.position))
            else:
                self._done = item

    async def _tool_call(self, item: ToolCallDelta) -> None:
        """One piece of a tool call: an event of its own, and the call kept whole in the
        reply's ``metadata.tool_calls`` (with the seq of its last piece), which history and
        a resume from the stored row read."""
        calls = self.metadata.setdefault("tool_calls", [])
        assert isinstance(calls, list)
        while len(calls) <= item.index:
            calls.append({"id": "", "name": "", "arguments": "", "seq": 0})
        call = calls[item.index]
        call["id"] = item.id or call["id"]
        call["name"] = item.name or call["name"]
        call["arguments"] += item.arguments
        self.seq += 1
        call["seq"] = self.seq
        self._dirty = True
        event = MessageToolCall(
            self.message_id, self.seq, item.index, item.id, item.name, item.arguments
        )
        await self._deliver(event)

    async def _main(self) -> None:
        error: ErrorInfo | None = None
        self._pump = asyncio.create_task(self._generate(), name=f"pump {self.message_id}")
        if self._stop is not None:
            self._pump.cancel()
        await asyncio.wait([self._pump])
        if not self._pump.cancelled():
            exc = self._pump.exception()
            if isinstance(exc, TokenwireError):
                error = ErrorInfo(exc.code, exc.message, exc.retryable)
            elif exc is not None:
                log.error("reply %s failed", self.message_id, exc_info=exc)
                error = ErrorInfo("internal_error", "the reply failed on the server", True)
        try:
            await self._finish(error)
        finally:
            if self._owner is not None:
                try:
                    await self._owner.release()
                except Exception as exc:  # it lapses by itself within its TTL
                    log.warning("could not release the lease of %s: %s", self.message_id, exc)
            self._on_done(self)

    def _conversation_key(self) -> str | None:
        """The name the conversation takes with this completed reply, if it takes one; a
        name that cannot be made leaves it unnamed, never the reply unended."""
        if self._key is None:
            return None
        try:
            return self._key(self.content, call_infos(self.metadata))
        except Exception:
            log.exception("could not name the conversation of reply %s", self.message_id)
            return None

    async def _finish(self, error: ErrorInfo | None) -> None:
        now = time.monotonic()
        total_ms = round((now - self._started) * 1000, 1)
        ttft_ms = (
            round((self._first_token - self._started) * 1000, 1) if self._first_token else None
        )
        completion = self._done.completion_tokens if self._done else len(self._marks)
        prompt = self._done.prompt_tokens if self._done else 0
        gen_s = now - self._first_token if self._first_token else 0.0
        tps = round(completion / gen_s, 2) if gen_s > 0 and completion else None
        usage = Usage(prompt, completion)
        timings = Timings(ttft_ms, total_ms, tps)
        seq = self.seq + 1
        terminal: Event
        if self._stop == "interrupted":
            error = ErrorInfo("interrupted", "the server shut down before the reply finished", True)
        finish_reason: FinishReason | None = None
        if error is not None:
            status = (
                MessageStatus.INTERRUPTED if error.code == "interrupted" else MessageStatus.ERROR
            )
            terminal = MessageError(self.message_id, seq, error)
        else:
            if self._stop == "cancelled":
                finish_reason = "cancelled"
                status = MessageStatus.CANCELLED
            else:
                finish_reason = self._done.finish_reason if self._done else "stop"
                status = MessageStatus.COMPLETE
            terminal = MessageEnd(self.message_id, seq, finish_reason, usage, timings)
        outcome = Outcome(
            status=status,
            content=self.content,
            marks=tuple(self._marks),
            last_seq=seq,
            finish_reason=finish_reason,
            usage=usage,
            timings=timings,
            error=error,
            metadata=self.metadata or None,
            model=self.written_by,
            conversation_key=self._conversation_key() if status is MessageStatus.COMPLETE else None,
        )

        def ended(status: str, error_code: str | None) -> ReplyEnd:
            ttft_s = None if ttft_ms is None else ttft_ms / 1000
            return ReplyEnd(status, error_code, completion, ttft_s, total_ms / 1000)

        if not await self._still_owner():
            # Another instance took the reply over while this one stalled: its end is theirs.
            log.warning("reply %s is owned elsewhere now; leaving its end alone", self.message_id)
            self._hooks.reply_ended(self.info, ended("handed_over", "lease_lost"))
            return
        # The row first, then the event: a client that sees the end and reloads history
        # must find the final text there, and is never told an end the row does not have.
        saved = await ending.save(self._store, self.message_id, outcome, stopping=self._stopping)
        end = ending.ending(terminal, status, error.code if error else None, saved)
        written = saved is not None and saved[0]
        if written and self._on_complete is not None and status is MessageStatus.COMPLETE:
            try:
                await self._on_complete(self.content, call_infos(self.metadata))
            except Exception:
                log.exception("could not record the end of reply %s", self.message_id)
        self.seq = seq
        try:
            await self._append_terminal(end.terminal)
        finally:
            self._hooks.reply_ended(self.info, ended(end.status, end.error_code))


def _logprobs(item: Delta) -> list[TokenLogprob]:
    return [
        TokenLogprob(
            p.token,
            p.logprob,
            list(p.bytes),
            [TopLogprob(t.token, t.logprob, list(t.bytes)) for t in p.top_logprobs],
        )
        for p in item.logprobs
    ]
