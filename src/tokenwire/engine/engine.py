"""The engine: ``send``, ``cancel`` and ``follow`` over the store, the event log and a provider.

Arrows point down only: the API calls the engine; the engine calls the store, the log and
the provider; none of those know about each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from tokenwire.engine import references, replay, sends
from tokenwire.engine.admission import Admission, Release
from tokenwire.engine.checkpoints import Checkpointer
from tokenwire.engine.cluster import Cluster, Lease
from tokenwire.engine.config import EngineConfig
from tokenwire.engine.following import Follower, Following
from tokenwire.engine.hooks import Hooks, ReplyInfo
from tokenwire.engine.reads import Reads
from tokenwire.engine.run import Run, StopReason
from tokenwire.engine.runs import Runs
from tokenwire.engine.takeover import Sweeper
from tokenwire.engine.transcript import chat_turns
from tokenwire.engine.variants import REQUEST, Variants, context_metadata
from tokenwire.errors import (
    BadRequest,
    ProviderError,
    Unavailable,
)
from tokenwire.ids import MessageId, UserId
from tokenwire.log.base import EventLog, LogMiss
from tokenwire.personas import Personas
from tokenwire.protocol.events import is_terminal
from tokenwire.protocol.options import (
    ByHistory,
    CallInfo,
    ConversationRef,
    PriorTurn,
    TurnOptions,
)
from tokenwire.providers import capabilities
from tokenwire.providers.base import ChatTurn, GenerationRequest, Provider
from tokenwire.store.records import Conversation, Message, MessageStatus, Said, Turn
from tokenwire.store.store import Checkpoint, NewTurn, SQLStore

log = logging.getLogger("tokenwire.engine")

NO_OPTIONS = TurnOptions()


class Engine(Variants, Reads):
    def __init__(
        self,
        *,
        config: EngineConfig,
        store: SQLStore,
        events: EventLog,
        provider: Provider,
        personas: Personas | None = None,
        hooks: Hooks | None = None,
        admission: Admission | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        """``cluster``: the other instances on the same Redis, if any (``engine/cluster.py``)."""
        self.config = config
        self.store = store
        self.events = events
        self.provider = provider
        self.personas = personas or Personas({})
        self.hooks = hooks or Hooks()
        self.admission = admission
        self.runs = Runs()
        self._releases: dict[MessageId, Release] = {}
        self._accepting = True
        self._shut_down = False
        self._checkpointer = Checkpointer(
            runs=self.runs, store=store, interval_s=config.checkpoint_interval_s
        )
        self._background: set[asyncio.Task[None]] = set()  # titles being written
        # The branch each starting reply answers, as its turn's transaction read it: taken
        # by ``_request`` so that a new reply's prompt costs no second read of the store.
        self._branches: dict[MessageId, tuple[Said, ...]] = {}
        self.cluster = cluster
        self._sweeper: Sweeper | None = None
        self.follower = Follower(config=config, store=store, events=events, hooks=self.hooks)

    # lifecycle ---------------------------------------------------------------------------

    async def start(self, *, recover: bool = True) -> None:
        if self.cluster is not None:
            # Replies left streaming may be running on other instances: the sweeper takes over
            # only those whose owner's lease lapsed, instead of recover() ending them all.
            self._sweeper = Sweeper(
                config=self.config,
                cluster=self.cluster,
                store=self.store,
                runs=self.runs,
                launch=self.launch,
            )
            await self._sweeper.start()
        elif recover:
            await self.recover()
        self._checkpointer.start()

    async def recover(self) -> None:
        """Replies left streaming by a previous process that nobody can continue end as
        ``interrupted``, with the text of their last checkpoint."""
        for reply in await self.store.streaming_messages():
            if reply.id in self.runs:
                continue
            await self.store.finish(reply.id, replay.interrupted(reply))
            log.info("reply %s was left streaming; marked interrupted", reply.id)

    async def shutdown(self) -> None:
        """Stop taking sends, let running replies finish for the grace period, then stop the
        rest as ``interrupted`` with their partial text saved."""
        if self._shut_down:
            return
        self._shut_down = True
        self._accepting = False
        if self._sweeper is not None:
            await self._sweeper.stop_sweeping()  # leases are still renewed while runs drain
        tasks = [run.task for run in self.runs.values() if run.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=self.config.shutdown_grace_s)
        for run in list(self.runs.values()):
            run.stop("interrupted")
        tasks = [run.task for run in self.runs.values() if run.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._checkpointer.stop()
        if self._sweeper is not None:
            await self._sweeper.stop()

    # sending -----------------------------------------------------------------------------

    async def start_turn(
        self,
        user_id: UserId,
        ref: ConversationRef,
        prompt: str,
        options: TurnOptions = NO_OPTIONS,
    ) -> Turn:
        """Start a reply to ``prompt`` in the conversation ``ref`` names: the one way any
        route starts a turn.

        Everything that can refuse the send is checked first (content, images, persona,
        the user's stream limit, the model's queue); only then, in one transaction, is the
        conversation found or made, a stateless client's history stored and the turn added.
        A refused send writes nothing. Returns once the turn is committed; the reply streams
        in the background. A repeated ``client_message_id`` returns the first turn and
        starts nothing.
        """
        if not self._accepting:
            raise Unavailable("the server is shutting down", retry_after=5)
        # A tool may well return nothing; a user message may not be empty.
        sends.check_content(prompt, self.config, empty_ok=options.tool_call_id is not None)
        images = sends.checked_images(options.images, self.config, self.provider)
        capabilities.check(self.provider, options)
        if options.persona is not None:
            self.personas.require(options.persona)
        release = await self.admission.admit(user_id) if self.admission else None
        try:
            self.provider.admit()
            conversation, turn = await self.store.open_turn(
                user_id,
                references.target(ref, prompt, options),
                NewTurn(
                    content=prompt,
                    parent_id=sends.parent(options.parent_id),
                    client_message_id=options.client_message_id,
                    images=images,
                    model=lambda c: options.model or self._model(c),
                    reply_metadata=sends.request_metadata(options),
                    **sends.prompt_kind(options),
                ),
            )
            if turn.created:
                reply_id = turn.assistant_message.id
                if release is not None:
                    # Held until the run ends (_run_done), or given back if it never starts.
                    self._releases[reply_id], release = release, None
                key = None
                if isinstance(ref, ByHistory):
                    asked = PriorTurn(
                        "tool" if options.tool_call_id else "user",
                        prompt,
                        tuple(images),
                        tool_call_id=options.tool_call_id,
                    )
                    key = sends.history_key(ref, asked)
                if turn.branch is not None:
                    self._branches[reply_id] = turn.branch
                try:
                    await self._start(conversation, turn, key=key)
                except BaseException:
                    self._release(reply_id)
                    raise
                finally:
                    self._branches.pop(reply_id, None)
        finally:
            if release is not None:
                release()
        return turn

    async def result(self, reply: Message) -> Message:
        """Wait for the reply to end and return it as stored; a reply that failed raises its
        error (``ProviderError``), one the server stopped raises ``Unavailable``: an answer
        that is not streamed never passes a failure off as a success."""
        final = await self.follower.wait(reply)
        if final.status is MessageStatus.INTERRUPTED:
            raise Unavailable("the server stopped before the reply finished", retry_after=1)
        if final.status is MessageStatus.ERROR:
            error = final.error
            raise ProviderError(
                error.message if error else "the reply failed",
                code=error.code if error else "provider_error",
            )
        return final

    async def _start(
        self,
        conversation: Conversation,
        turn: Turn,
        *,
        on_complete: Callable[[str, tuple[CallInfo, ...]], Awaitable[None]] | None = None,
        key: Callable[[str, tuple[CallInfo, ...]], str] | None = None,
    ) -> None:
        """``key``: how the conversation is named once the reply completes (``ByHistory``)."""
        reply = turn.assistant_message
        started = time.monotonic()
        context, prepared = await self._context(conversation, reply)
        lease: Lease | None = None
        try:
            if self.cluster is not None:
                lease = await self.cluster.claim(reply.id)
            await self.events.append(replay.start_event(reply, turn.user_message, context))
        except Exception as exc:
            await self.store.finish(reply.id, replay.failed(reply, "the event log is unavailable"))
            if lease is not None:
                with contextlib.suppress(Exception):
                    await lease.release()
            raise Unavailable("the event log is unavailable", retry_after=5) from exc
        self.launch(
            conversation,
            reply,
            started=started,
            owner=lease,
            on_complete=self._titling(conversation, turn, on_complete),
            metadata=context_metadata(context),
            prepared=prepared,
            key=key,
        )
        try:
            await self.events.announce(conversation.id, reply.id)
        except Unavailable as exc:
            # The reply runs and can be followed; only sockets waiting for it miss its start.
            log.warning("could not announce reply %s: %s", reply.id, exc)

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
        on_complete: Callable[[str, tuple[CallInfo, ...]], Awaitable[None]] | None = None,
        prepared: GenerationRequest | None = None,
        key: Callable[[str, tuple[CallInfo, ...]], str] | None = None,
    ) -> Run:
        """Start the run of a reply whose ``message.start`` is in the log: a new one, or with
        ``resume`` one taken over from another instance (``stop`` ends it at once).
        ``prepared``: its provider request, when already built. ``key``: the name its
        conversation takes with the reply's end, from the reply's text and tool calls."""

        async def request() -> GenerationRequest:
            generation = prepared or await self._request(conversation, reply)
            if resume is not None and resume.content:
                # The provider continues the partial turn rather than starting it again.
                generation = dataclasses.replace(generation, prefix=resume.content)
            return generation

        run = Run(
            message_id=reply.id,
            conversation_id=conversation.id,
            provider=self.provider,
            store=self.store,
            events=self.events,
            request=request,
            started=time.monotonic() if started is None else started,
            on_done=self._run_done,
            info=ReplyInfo(
                message_id=reply.id,
                conversation_id=conversation.id,
                user_id=reply.user_id,
                provider=self.provider.name,
                model=reply.model or self.provider.model,
            ),
            hooks=self.hooks,
            resume=resume,
            owner=owner,
            on_complete=on_complete,
            key=key,
            reply=reply,
        )
        run.metadata.update(metadata or {})
        self.runs.add(run)
        self.hooks.reply_started(run.info)
        if stop is not None:
            run.stop(stop)
        run.start()
        return run

    def _run_done(self, run: Run) -> None:
        self.runs.discard(run.message_id)
        self._release(run.message_id)

    def _release(self, reply_id: MessageId) -> None:
        release = self._releases.pop(reply_id, None)
        if release is not None:
            release()

    def _model(self, conversation: Conversation) -> str:
        """The model a reply asks for: the conversation's, else its persona's, else the
        provider's own."""
        persona = self.personas.get(conversation.persona)
        if conversation.model:
            return conversation.model
        return persona.model if persona and persona.model else self.provider.model

    async def _request(self, conversation: Conversation, reply: Message) -> GenerationRequest:
        """The provider's request, rebuilt from the stored conversation and the options the
        turn was started with (kept with the reply, so an instance taking it over asks the
        model exactly what the first one did)."""
        options = msgspec.convert(reply.metadata.get(REQUEST, {}), TurnOptions)
        turns: list[ChatTurn] = []
        system = self.personas.system_prompt(conversation)
        if system:
            turns.append(ChatTurn("system", system))
        branch = self._branches.pop(reply.id, None)
        if branch is None:
            branch = tuple(await self.store.history(conversation.id, reply.id))
        turns += chat_turns(branch)
        persona = self.personas.get(conversation.persona)
        sampling = options.sampling
        temperature = sampling.temperature
        if temperature is None and persona is not None:
            temperature = persona.temperature
        return GenerationRequest(
            messages=turns,
            model=reply.model or conversation.model or (persona.model if persona else None),
            sampling=msgspec.structs.replace(sampling, temperature=temperature),
            tools=options.tools,
            tool_choice=options.tool_choice,
            parallel_tool_calls=options.parallel_tool_calls,
            response_format=options.response_format,
        )

    # cancelling --------------------------------------------------------------------------

    async def cancel(self, user_id: UserId, message_id: str) -> Message:
        """Stop a reply; idempotent. Returns the message as it stands after the stop."""
        message = await self.store.get_message(user_id, references.normalize_id(message_id))
        if message.role != "assistant":
            raise BadRequest("only an assistant reply can be cancelled", code="not_a_reply")
        run = self.runs.get(message.id)
        if run is not None:
            run.stop("cancelled")
            if run.task is not None:
                await asyncio.shield(run.task)
        elif self.cluster is not None and message.status is MessageStatus.STREAMING:
            await self._cancel_elsewhere(message)
        return await self.store.get_message(user_id, message.id)

    async def delete_conversation(self, user_id: UserId, cid: str) -> None:
        """Delete a conversation and its messages, its running replies stopped first so that
        no run keeps writing into rows about to disappear."""
        conversation = await self.conversation(user_id, cid)
        for reply in await self.in_flight(conversation.id):
            await self.cancel(user_id, reply.id)
        await self.store.delete_conversation(user_id, conversation.id)

    async def _cancel_elsewhere(self, reply: Message) -> None:
        """Have the instance that runs the reply stop it, and wait for its end: milliseconds
        when the owner is alive; after the takeover when it died."""
        assert self.cluster is not None
        await self.cluster.commands.cancel(reply.id)
        patience = self.config.lease_ttl_s + 2 * self.config.sweep_interval_s + 5
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(patience):
                try:
                    async for events in self.events.read(reply.id, reply.last_seq, batch=512):
                        if is_terminal(events[-1]):
                            return
                except LogMiss:
                    pass
                current: Message | None = reply
                while current is not None and not current.status.is_final:
                    await asyncio.sleep(0.05)
                    current = await self.store.find_message(reply.id)

    # following ---------------------------------------------------------------------------

    def follow(self, reply: Message, after: int = -1) -> Following:
        """The reply's events with seq > ``after`` in batches, live until the terminal event:
        from the event log while it has them, from the stored row once it does not."""
        return self.follower.follow(reply, after)

    async def wait(self, reply: Message) -> Message:
        """Wait for the reply to end and return it as stored."""
        return await self.follower.wait(reply)
