"""The SDK's chat calls against a real server: edit, branches, regenerate, continue,
search, export and import; typed with the REST Structs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.client.conftest import FAST, quick_backoff
from tests.conftest import ServerFactory
from tests.helpers.server import Server, start_server
from tests.providers.served import openai_server
from tests.providers.upstream import Reply, Upstream
from tokenwire.client import (
    AsyncTokenwire,
    ConversationExport,
    NotFoundError,
    ReplyStatus,
    SearchHit,
    Tokenwire,
    TransportKind,
)
from tokenwire.client.errors import APIError

pytestmark = pytest.mark.anyio
LONG = "alpha beta gamma delta epsilon zeta"  # six words, one a chunk: cut after four


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("client-chat"), {**FAST, "TOKENWIRE_SCRIPTED_MAX_CHUNKS": "4"}
    )
    yield srv
    srv.stop()


def client_for(server: Server) -> AsyncTokenwire:
    return AsyncTokenwire(
        server.url, server.token, transports=(TransportKind.SSE,), backoff=quick_backoff()
    )


async def test_edit_regenerate_and_switch_branch(chat_server: Server) -> None:
    async with client_for(chat_server) as client:
        conversation = await client.create_conversation(title="sdk branches")
        first = await client.send(conversation.id, "one").result()
        second = await client.send(conversation.id, "two").result()
        edited = await (await client.edit(conversation.id, first.message_id, "two edited")).result()
        assert edited.text == "two edited"

        shown = (await client.branch(conversation.id)).items
        assert [m.content for m in shown] == ["one", "one", "two edited", "two edited"]
        assert shown[2].siblings is not None
        assert shown[2].siblings.index == 1
        assert len(shown[2].siblings.ids) == 2

        again = await (await client.regenerate(edited.message_id or "")).result()
        assert again.message_id != edited.message_id
        siblings = await client.siblings(again.message_id or "")
        assert [m.id for m in siblings] == [edited.message_id, again.message_id]

        switched = await client.switch_branch(conversation.id, second.message_id or "")
        assert switched.current_leaf_id == second.message_id
        old = (await client.branch(conversation.id)).items
        assert [m.content for m in old][2:] == ["two", "two"]
        through = await client.branch(conversation.id, leaf=again.message_id)
        assert through.items[-1].id == again.message_id

        with pytest.raises(NotFoundError):
            await client.switch_branch(conversation.id, str(uuid.uuid4()))


async def test_continue_a_cut_reply(chat_server: Server) -> None:
    async with client_for(chat_server) as client:
        conversation = await client.create_conversation(title="sdk continue")
        cut = await client.send(conversation.id, LONG).result()
        assert cut.finish_reason == "length"
        assert cut.text == "alpha beta gamma delta"
        whole = await (await client.continue_reply(cut.message_id or "")).result()
        assert whole.message_id == cut.message_id
        assert whole.text == LONG
        assert whole.status is ReplyStatus.COMPLETE
        assert whole.finish_reason == "stop"
        with pytest.raises(APIError) as refused:
            await client.continue_reply(cut.message_id or "")
        assert refused.value.code == "not_continuable"


async def test_continue_over_the_socket_that_carried_the_old_end(
    server_factory: ServerFactory,
) -> None:
    """The socket that carried the cut reply keeps its frames, its old end among them, and
    the continue is followed while the model has said nothing more yet (the upstream waits
    before each chunk): the follower gets the new text, never the old end again."""
    cut = Reply(deltas=("alpha", " beta"), finish_reason="length")
    more = Reply(deltas=(" gamma", " delta"), delay=0.5)
    async with Upstream(cut, more) as upstream:
        server = openai_server(server_factory, upstream)
        async with AsyncTokenwire(
            server.url, server.token, transports=(TransportKind.WEBSOCKET,), backoff=quick_backoff()
        ) as client:
            conversation = await client.create_conversation(title="continue on a socket")
            first = await client.send(conversation.id, "go on").result()
            assert (first.text, first.finish_reason) == ("alpha beta", "length")
            assert first.transport is TransportKind.WEBSOCKET
            stream = await client.continue_reply(first.message_id or "")
            whole = await stream.result()
            assert whole.message_id == first.message_id
            assert (whole.text, whole.finish_reason) == ("alpha beta gamma delta", "stop")
            assert whole.transport is TransportKind.WEBSOCKET
            stored = await client.message(first.message_id or "")
            assert stored.content == whole.text


async def test_search_export_and_import(chat_server: Server) -> None:
    word = "sdk" + uuid.uuid4().hex[:6]
    async with client_for(chat_server) as client:
        conversation = await client.create_conversation(title=f"about {word}")
        await client.send(conversation.id, f"the {word} word").result()
        hits = await client.search(word)
        assert all(isinstance(h, SearchHit) for h in hits)
        assert {h.conversation_id for h in hits} == {conversation.id}
        assert any(h.message_id is None for h in hits)  # the title

        exported = await client.export(conversation.id)
        assert isinstance(exported, ConversationExport)
        assert [m.content for m in exported.messages] == [f"the {word} word"] * 2
        copy = await client.import_conversation(exported)
        assert copy.id != conversation.id
        assert [m.content for m in (await client.branch(copy.id)).items] == [f"the {word} word"] * 2
        text = await client.export_markdown(conversation.id)
        assert text.startswith(f"# about {word}")


def test_the_blocking_client_has_the_same_calls(chat_server: Server) -> None:
    with Tokenwire(chat_server.url, chat_server.token, transports=(TransportKind.SSE,)) as client:
        conversation = client.create_conversation(title="sync chat")
        cut = client.send(conversation.id, LONG).result()
        assert client.continue_reply(cut.message_id or "").result().text == LONG
        regenerated = client.regenerate(cut.message_id or "").result()
        assert regenerated.text == "alpha beta gamma delta"
        assert len(client.siblings(regenerated.message_id or "")) == 2
        assert [m.role for m in client.branch(conversation.id).items] == ["user", "assistant"]
        assert client.export(conversation.id).conversation.id == conversation.id
        assert client.search("zzzznothing") == []
