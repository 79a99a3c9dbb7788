"""``Tokenwire``: the blocking face of ``AsyncTokenwire``, for scripts and REPLs.

It owns an event loop on a daemon thread and runs the async client there: every method
hands a coroutine to that loop and waits for its result, so there is one implementation of
everything, not a synchronous copy.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import CancelledError, Future
from types import TracebackType
from typing import Any, TypeVar

from tokenwire.client.client import AsyncTokenwire
from tokenwire.client.models import (
    Conversation,
    ConversationExport,
    Message,
    Page,
    Persona,
    Reply,
    SearchHit,
    TransportKind,
)
from tokenwire.client.state import ConnectionState, ConnectionStatus, Listener
from tokenwire.client.stream import ReplyStream

T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="tokenwire-client", daemon=True
        )
        self._thread.start()
        self._waiting: set[Future[Any]] = set()  # the calls ``run`` waits for now
        self._interrupted: set[Future[Any]] = set()  # those of them ``interrupt`` cancelled

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for it. Interrupted (Ctrl-C, or ``interrupt``),
        it raises ``KeyboardInterrupt`` and the call is cancelled on the loop too: a
        request the caller gave up on does not go on behind its back."""
        future = self.submit(coro)
        self._waiting.add(future)
        try:
            return future.result()
        except CancelledError:
            if future in self._interrupted:
                raise KeyboardInterrupt from None
            raise
        except KeyboardInterrupt:
            future.cancel()
            raise
        finally:
            self._waiting.discard(future)
            self._interrupted.discard(future)

    def interrupt(self) -> None:
        # Run by a signal handler, between two bytecodes of whatever the thread was doing:
        # it only cancels futures, which wakes their waiters and hands the cancel to the loop.
        for future in list(self._waiting):
            self._interrupted.add(future)
            future.cancel()

    def stop(self) -> None:
        self.run(_finish_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class SyncReplyStream:
    """A ``ReplyStream`` iterated without ``await``: ``for reply in stream``.

    A ``KeyboardInterrupt`` while waiting for the next snapshot leaves the stream usable:
    the pending read is kept and the next ``next()`` picks it up, so nothing is lost (a
    terminal chat cancels the reply on Ctrl-C, then reads on to the end).
    """

    def __init__(self, stream: ReplyStream, runner: _LoopThread) -> None:
        self._stream = stream
        self._runner = runner
        self._pending: Future[Reply] | None = None

    @property
    def message_id(self) -> str | None:
        return self._stream.message_id

    @property
    def is_streaming(self) -> bool:
        return self._stream.is_streaming

    def __iter__(self) -> SyncReplyStream:
        return self

    def __next__(self) -> Reply:
        if self._pending is None:
            self._pending = self._runner.submit(_next(self._stream))
        try:
            reply = self._pending.result()
        except StopAsyncIteration:
            self._pending = None
            raise StopIteration from None
        self._pending = None
        return reply

    def result(self) -> Reply:
        return self._runner.run(self._stream.result())

    def cancel(self, *, wait: bool = True) -> None:
        """Ask the server to stop the reply; iteration then ends with status CANCELLED.
        With ``wait=False`` the request is made in the background (it retries while the
        server is away, and the iteration shows its effect)."""
        future = self._runner.submit(self._stream.cancel())
        if wait:
            future.result()

    def close(self, *, wait: bool = True) -> None:
        """Stop following the reply here (it goes on on the server); iteration then ends.
        With ``wait=False`` the stream is closed in the background."""
        future = self._runner.submit(self._stream.aclose())
        if wait:
            future.result()


async def _finish_the_rest() -> None:
    """Cancel what still runs on the loop (a cancel handed over with ``wait=False`` to a
    server that is away) and let it finish, as ``asyncio.run`` does on its way out, rather
    than close the loop on tasks left pending."""
    current = asyncio.current_task()
    rest = [task for task in asyncio.all_tasks() if task is not current]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


async def _next(stream: ReplyStream) -> Reply:
    return await stream.__anext__()


class Tokenwire:
    """Blocking client; takes the same arguments as ``AsyncTokenwire``."""

    def __init__(self, base_url: str, token: str, **options: Any) -> None:
        self.base_url = base_url.rstrip("/")
        self._runner = _LoopThread()

        async def make() -> AsyncTokenwire:
            client = AsyncTokenwire(base_url, token, **options)
            await client.__aenter__()
            return client

        self._client = self._runner.run(make())

    @property
    def status(self) -> ConnectionStatus:
        return self._client.status

    @property
    def transport(self) -> TransportKind:
        return self._client.transport

    @property
    def state(self) -> ConnectionState:
        return self._client.state

    def on_state_change(self, listener: Listener) -> Callable[[], None]:
        """``listener`` is called on the client's own thread."""
        return self._client.on_state_change(listener)

    def check(self) -> ConnectionState:
        return self._runner.run(self._client.check())

    def create_conversation(self, **fields: Any) -> Conversation:
        return self._runner.run(self._client.create_conversation(**fields))

    def conversations(self, *, limit: int = 50, before: str | None = None) -> Page[Conversation]:
        return self._runner.run(self._client.conversations(limit=limit, before=before))

    def conversation(self, conversation_id: str) -> Conversation:
        return self._runner.run(self._client.conversation(conversation_id))

    def update_conversation(
        self, conversation_id: str, *, title: str | None = None, persona: str | None = None
    ) -> Conversation:
        return self._runner.run(
            self._client.update_conversation(conversation_id, title=title, persona=persona)
        )

    def delete_conversation(self, conversation_id: str) -> None:
        self._runner.run(self._client.delete_conversation(conversation_id))

    def history(
        self, conversation_id: str, *, limit: int = 100, before: str | None = None
    ) -> Page[Message]:
        return self._runner.run(self._client.history(conversation_id, limit=limit, before=before))

    def message(self, message_id: str) -> Message:
        return self._runner.run(self._client.message(message_id))

    def personas(self) -> list[Persona]:
        return self._runner.run(self._client.personas())

    def send(
        self,
        conversation_id: str,
        content: str,
        *,
        client_message_id: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> SyncReplyStream:
        async def start() -> ReplyStream:
            return self._client.send(
                conversation_id, content, client_message_id=client_message_id, options=options
            )

        return SyncReplyStream(self._runner.run(start()), self._runner)

    def resume(self, reply: Message | str) -> SyncReplyStream:
        async def start() -> ReplyStream:
            return self._client.resume(reply)

        return SyncReplyStream(self._runner.run(start()), self._runner)

    def cancel(self, message_id: str) -> Message:
        return self._runner.run(self._client.cancel(message_id))

    # branches, regenerate, continue, search, export (``client/chat.py``) ----------------

    def edit(self, conversation_id: str, parent_id: str | None, content: str) -> SyncReplyStream:
        stream = self._runner.run(self._client.edit(conversation_id, parent_id, content))
        return SyncReplyStream(stream, self._runner)

    def branch(
        self, conversation_id: str, *, leaf: str | None = None, limit: int = 100
    ) -> Page[Message]:
        return self._runner.run(self._client.branch(conversation_id, leaf=leaf, limit=limit))

    def switch_branch(self, conversation_id: str, message_id: str) -> Conversation:
        return self._runner.run(self._client.switch_branch(conversation_id, message_id))

    def siblings(self, message_id: str) -> list[Message]:
        return self._runner.run(self._client.siblings(message_id))

    def regenerate(self, message_id: str) -> SyncReplyStream:
        return SyncReplyStream(self._runner.run(self._client.regenerate(message_id)), self._runner)

    def continue_reply(self, message_id: str) -> SyncReplyStream:
        stream = self._runner.run(self._client.continue_reply(message_id))
        return SyncReplyStream(stream, self._runner)

    def search(self, query: str, *, limit: int = 20) -> list[SearchHit]:
        return self._runner.run(self._client.search(query, limit=limit))

    def export(self, conversation_id: str) -> ConversationExport:
        return self._runner.run(self._client.export(conversation_id))

    def export_markdown(self, conversation_id: str) -> str:
        return self._runner.run(self._client.export_markdown(conversation_id))

    def import_conversation(self, exported: ConversationExport) -> Conversation:
        return self._runner.run(self._client.import_conversation(exported))

    def interrupt(self) -> None:
        """Stop the calls that threads wait for now, as Ctrl-C stops the main thread's: each
        raises ``KeyboardInterrupt`` in its thread and is cancelled on the client's loop.
        Safe from a signal handler and from any thread; a reply stream being iterated is
        not a call (``SyncReplyStream.cancel`` and ``close`` stop that)."""
        self._runner.interrupt()

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.stop()

    def __enter__(self) -> Tokenwire:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
