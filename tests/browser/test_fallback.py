"""WebSocket blocked: behind a proxy that answers every upgrade with 403, the page falls back
to SSE and still streams, survives a reload mid-reply, and stops."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.pages import ChatPage, new_conversation, stored, words
from tests.browser.proxy import Proxy
from tests.helpers.server import Server


@pytest.fixture
def blocking_proxy(chat_server: Server) -> Iterator[Proxy]:
    proxy = Proxy(chat_server.port, refuse_upgrades=True)
    yield proxy
    proxy.close()


def test_websocket_refused_falls_back_to_sse(
    context: BrowserContext, chat_server: Server, blocking_proxy: Proxy
) -> None:
    cid = new_conversation(chat_server, "behind a proxy")
    chat = ChatPage.open(context, blocking_proxy.url, chat_server.token, cid)
    chat.wait_connected(transport="sse")
    assert blocking_proxy.refused >= 2, "the page tried WebSocket first"
    assert blocking_proxy.upgrades == 0
    assert chat.page.inner_text("#badge") == "Connected · SSE"

    # Sending goes over POST ?wait=false; the reply streams over SSE and grows.
    text = words(100, "f")
    chat.send(text)
    mid = chat.new_reply([])
    samples = chat.watch(mid)
    assert samples[-1].status == "complete"
    assert len({len(s.text) for s in samples if s.status == "streaming" and s.text}) >= 3
    assert stored(chat_server, mid)["content"] == text
    assert chat.wait_text(mid, text) == text

    # A reload mid-reply over SSE: the text so far at once, then the rest, exactly.
    text = words(160, "g")
    chat.send(text)
    mid = chat.new_reply([mid])
    chat.wait_length(mid, 60)
    chat.page.reload()
    chat.page.wait_for_selector(f'[data-message-id="{mid}"]')
    first = chat.read(mid)
    assert first is not None
    assert first.text
    assert text.startswith(first.text)
    chat.wait_connected(transport="sse")
    assert chat.watch(mid)[-1].status == "complete"
    assert stored(chat_server, mid)["content"] == text
    assert chat.wait_text(mid, text) == text

    # Esc stops a reply over SSE too, and the partial text stays exact.
    before = chat.reply_ids()
    chat.send(words(400, "h"))
    last = chat.new_reply(before)
    chat.wait_length(last, 40)
    chat.page.press("#input", "Escape")
    assert chat.watch(last)[-1].status == "cancelled"
    partial = stored(chat_server, last)["content"]
    assert 0 < len(partial) < len(words(400, "h"))
    assert chat.wait_text(last, partial) == partial
    assert blocking_proxy.upgrades == 0, "not one WebSocket got through"
    assert chat.errors == []
