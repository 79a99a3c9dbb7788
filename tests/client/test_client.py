"""The SDK against a real server: conversations, history, cancel, resume, idempotent
sends, token refresh, errors, and a server that goes away and comes back."""

from __future__ import annotations

import asyncio
import signal

import msgspec
import pytest

from tests.client.conftest import FAST, quick_backoff
from tests.conftest import ServerFactory
from tests.helpers.server import Server, start_server
from tokenwire.client import (
    AsyncTokenwire,
    AuthenticationError,
    Backoff,
    ConnectionFailed,
    ConnectionStatus,
    NotFoundError,
    ReplyStatus,
    TransportKind,
)
from tokenwire.client.errors import APIError

pytestmark = pytest.mark.anyio
LONG = " ".join(f"w{i}" for i in range(200))
ALL = (TransportKind.WEBSOCKET, TransportKind.SSE, TransportKind.POLLING)


def client_for(server: Server, *kinds: TransportKind, **options: object) -> AsyncTokenwire:
    return AsyncTokenwire(
        server.url,
        server.token,
        transports=kinds or ALL,
        poll_interval=0.02,
        backoff=quick_backoff(),
        **options,  # type: ignore[arg-type]
    )


async def test_conversations_and_history(fast_server: Server) -> None:
    async with client_for(fast_server) as client:
        conversation = await client.create_conversation(title="notes", metadata={"k": "v"})
        assert conversation.title == "notes"
        assert conversation.metadata == {"k": "v"}
        reply = await client.send(conversation.id, "hello history").result()
        assert reply.text == "hello history"
        page = await client.conversations(limit=200)
        assert conversation.id in [c.id for c in page.items]
        history = await client.history(conversation.id)
        assert [(m.role, m.content) for m in history.items] == [
            ("user", "hello history"),
            ("assistant", "hello history"),
        ]
        assert history.items[1].id == reply.message_id
        assert (await client.conversation(conversation.id)).id == conversation.id
        await client.delete_conversation(conversation.id)
        with pytest.raises(NotFoundError) as caught:
            await client.conversation(conversation.id)
        assert caught.value.status == 404
        assert not caught.value.retryable


async def test_personas(fast_server: Server) -> None:
    async with client_for(fast_server) as client:
        try:
            personas = await client.personas()
        except NotFoundError:
            pytest.skip("this server has no /api/v1/personas")
        assert personas
        assert all(p.name for p in personas)


@pytest.mark.parametrize("kind", ALL)
async def test_cancel_while_streaming(fast_server: Server, kind: TransportKind) -> None:
    async with client_for(fast_server, kind) as client:
        conversation = await client.create_conversation()
        stream = client.send(conversation.id, LONG)
        deltas: list[str] = []
        cancelled = False
        async for reply in stream:
            deltas.append(reply.delta)
            if reply.text and not cancelled:
                cancelled = True
                await stream.cancel()
        assert reply.status is ReplyStatus.CANCELLED
        assert not reply.is_streaming
        assert reply.finish_reason == "cancelled"
        stored = await client.message(reply.message_id)
        assert stored.status is ReplyStatus.CANCELLED
        assert "".join(deltas) == reply.text == stored.content
        assert LONG.startswith(stored.content)
        assert stored.content != LONG


@pytest.mark.parametrize("kind", ALL)
async def test_resume_a_reply_from_history(fast_server: Server, kind: TransportKind) -> None:
    async with client_for(fast_server, kind) as client:
        conversation = await client.create_conversation()
        first = client.send(conversation.id, LONG)
        async for reply in first:
            if len(reply.text) > 20:
                break
        await first.aclose()  # this reader goes away; the reply goes on on the server
        history = await client.history(conversation.id)
        partial = history.items[-1]
        assert partial.status is ReplyStatus.STREAMING
        rest = [reply.delta async for reply in client.resume(partial)]
        assert partial.content + "".join(rest) == LONG
        whole = await client.resume(partial.id).result()
        assert whole.text == LONG
        assert whole.status is ReplyStatus.COMPLETE


@pytest.mark.parametrize("kind", ALL)
async def test_one_client_message_id_makes_one_reply(
    fast_server: Server, kind: TransportKind
) -> None:
    async with client_for(fast_server, kind) as client:
        conversation = await client.create_conversation()
        one = await client.send(conversation.id, "only once", client_message_id="c-1").result()
        two = await client.send(conversation.id, "only once", client_message_id="c-1").result()
        assert one.message_id == two.message_id
        assert two.text == "only once"
        history = await client.history(conversation.id)
        assert len(history.items) == 2


@pytest.mark.parametrize("kind", ALL)
async def test_a_send_carries_the_turn_options(fast_server: Server, kind: TransportKind) -> None:
    async with client_for(fast_server, kind) as client:
        conversation = await client.create_conversation()
        text = "one two three four five six"
        cut = await client.send(conversation.id, text, options={"max_tokens": 1}).result()
        # One token of the scripted model: its first chunk of words.
        assert cut.finish_reason == "length"
        assert cut.text.strip()
        assert text.startswith(cut.text)
        assert len(cut.text) < len(text)
        with pytest.raises(APIError) as caught:
            await client.send(conversation.id, text, options={"temperature": 9}).result()
        assert "temperature" in caught.value.message
        assert not caught.value.retryable


@pytest.mark.parametrize("kind", ALL)
async def test_errors_that_retrying_cannot_fix_are_raised(
    fast_server: Server, kind: TransportKind
) -> None:
    async with client_for(fast_server, kind) as client:
        with pytest.raises(NotFoundError):
            await client.send("01000000-0000-7000-8000-000000000000", "hello").result()
        conversation = await client.create_conversation()
        with pytest.raises(APIError) as caught:
            async for _ in client.send(conversation.id, "   "):
                pass
        assert caught.value.code == "empty_content"
        assert not caught.value.retryable


@pytest.mark.parametrize("kind", ALL)
async def test_a_401_refreshes_the_token_once(fast_server: Server, kind: TransportKind) -> None:
    calls: list[str] = []

    async def refresh() -> str:
        calls.append("refresh")
        return fast_server.token

    async with AsyncTokenwire(
        fast_server.url, "tw_expired", refresh_token=refresh, transports=(kind,), poll_interval=0.02
    ) as client:
        conversation = await client.create_conversation()
        reply = await client.send(conversation.id, "fresh token").result()
    assert reply.text == "fresh token"
    assert calls == ["refresh"]


async def test_a_refused_refresh_raises(fast_server: Server) -> None:
    async def refresh() -> str:
        return "tw_still_wrong"

    async with AsyncTokenwire(fast_server.url, "tw_expired", refresh_token=refresh) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.conversations()
    assert caught.value.status == 401
    assert not caught.value.retryable


async def test_a_policy_that_gives_up_raises_a_retryable_error(fast_server: Server) -> None:
    async with AsyncTokenwire(
        "http://127.0.0.1:9", fast_server.token, backoff=Backoff(max_attempts=2, initial=0.01)
    ) as client:
        with pytest.raises(ConnectionFailed) as caught:
            await client.send("01000000-0000-7000-8000-000000000000", "x").result()
        assert caught.value.retryable
        assert not caught.value.reachable
        assert client.status is ConnectionStatus.OFFLINE


async def test_the_client_follows_a_server_restart(server_factory: ServerFactory) -> None:
    server = server_factory(**{k.removeprefix("TOKENWIRE_").lower(): v for k, v in FAST.items()})
    async with client_for(server, keepalive=0.05) as client:
        conversation = await client.create_conversation()
        assert (await client.send(conversation.id, "before").result()).text == "before"
        assert client.status is ConnectionStatus.CONNECTED

        server.stop(signal.SIGTERM)
        await asyncio.wait_for(client.wait_for_status(ConnectionStatus.OFFLINE), 30)

        again = await asyncio.to_thread(start_server, server.data_dir, server.env, port=server.port)
        try:
            await asyncio.wait_for(client.wait_for_status(ConnectionStatus.CONNECTED), 30)
            reply = await client.send(conversation.id, "after the restart").result()
            assert reply.text == "after the restart"
            assert reply.transport is TransportKind.WEBSOCKET
        finally:
            again.stop()


async def test_sockets_of_conversations_left_behind_are_closed(fast_server: Server) -> None:
    # The server allows a user 20 sockets; going through more conversations than that must
    # not run out of them.
    async with client_for(fast_server, TransportKind.WEBSOCKET) as client:
        for n in range(25):
            conversation = await client.create_conversation()
            reply = await client.send(conversation.id, f"number {n}").result()
            assert reply.text == f"number {n}"
            assert reply.transport is TransportKind.WEBSOCKET


@pytest.mark.parametrize("kinds", [ALL, (TransportKind.WEBSOCKET,)], ids=["detour", "reset"])
async def test_a_follower_the_socket_cannot_serve_goes_another_way(
    fast_server: Server, kinds: tuple[TransportKind, ...]
) -> None:
    # The reader's socket takes the reply from a later point than a second follower
    # needs; the server would not send the earlier part there again. The follower takes
    # one attempt over SSE, or (WebSocket only) the socket starts afresh.
    async with (
        client_for(fast_server, TransportKind.WEBSOCKET) as sender,
        client_for(fast_server, *kinds) as reader,
    ):
        conversation = await sender.create_conversation()
        sending = sender.send(conversation.id, LONG)
        async for reply in sending:
            if len(reply.text) > 30:
                break
        partial = (await reader.history(conversation.id)).items[-1]
        later = reader.resume(partial)
        first = await anext(later)
        assert first.text.startswith(partial.content)
        from_start = reader.resume(msgspec.structs.replace(partial, content="", seq=-1))
        assert (await from_start.result()).text == LONG
        assert (await later.result()).text == LONG
        await sending.aclose()
