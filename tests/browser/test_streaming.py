"""Replies on the page: they grow as they stream, stop keeps the partial, a reload or a cut
connection loses nothing and doubles nothing, and two tabs show the same reply."""

from __future__ import annotations

import itertools
from pathlib import Path

from playwright.sync_api import BrowserContext

from tests.browser.pages import ChatPage, Sample, new_conversation, stored, words
from tests.browser.proxy import Proxy
from tests.helpers.server import Server

# Every state the connection badge passes through, however briefly.
RECORD_BADGE = """() => {
  const badge = document.getElementById("badge");
  window.badgeStates = [];
  new MutationObserver(() => window.badgeStates.push(badge.dataset.state))
    .observe(badge, {attributes: true, attributeFilter: ["data-state"]});
}"""


def test_reply_text_grows_while_it_streams(
    context: BrowserContext, chat_server: Server, screenshots: Path
) -> None:
    chat = ChatPage.open(context, chat_server.url, chat_server.token)
    chat.page.wait_for_selector("#welcome:not([hidden])")
    text = words(60)
    chat.send(text)
    mid = chat.new_reply([])
    shots: list[int] = []

    def screenshot_once(sample: Sample) -> None:
        if not shots and sample.status == "streaming" and len(sample.text) > 80:
            chat.page.screenshot(path=screenshots / "streaming.png")
            shots.append(len(sample.text))

    samples = chat.watch(mid, each=screenshot_once)
    streaming = [s.text for s in samples if s.status == "streaming"]
    growing = sorted({len(t) for t in streaming if t})
    assert len(growing) >= 3, f"the text should grow across observations: {growing}"
    # Each observation extends the one before: text only ever grows, from the start.
    for earlier, later in itertools.pairwise(streaming):
        assert later.startswith(earlier)
    assert shots, "a screenshot was taken mid-stream"
    assert all(s.typing for s in samples if s.status == "streaming"), "typing indicator"
    assert samples[-1].status == "complete"
    reply = stored(chat_server, mid)
    assert reply["content"] == text
    assert chat.wait_text(mid, text) == text
    assert not chat.page.is_visible(f'[data-message-id="{mid}"] .typing')
    # The log is the page's aria-live region; the reply is busy only while it streams.
    assert chat.page.get_attribute("#log", "aria-live") == "polite"
    assert chat.page.get_attribute(f'[data-message-id="{mid}"]', "aria-busy") == "false"
    assert chat.dialogs == []
    assert chat.errors == []


def test_stop_keeps_the_partial_reply(context: BrowserContext, chat_server: Server) -> None:
    chat = ChatPage.open(context, chat_server.url, chat_server.token)
    chat.page.wait_for_selector("#welcome:not([hidden])")
    text = words(400)
    chat.send(text)
    mid = chat.new_reply([])
    chat.page.wait_for_selector("#stop:not([hidden])")
    chat.watch(mid, until=frozenset({"streaming"}))
    chat.wait_length(mid, 40)
    chat.page.press("#input", "Escape")  # Esc does what the Stop button does
    assert chat.watch(mid)[-1].status == "cancelled"
    reply = stored(chat_server, mid)
    assert reply["status"] == "cancelled"
    assert 0 < len(reply["content"]) < len(text)
    assert text.startswith(reply["content"])
    assert chat.wait_text(mid, reply["content"]) == reply["content"]
    chat.page.wait_for_selector("#send:not([hidden])")
    assert chat.page.is_hidden("#stop")
    assert chat.page.inner_text(f'[data-message-id="{mid}"] .msg-meta .tag') == "Stopped"
    assert chat.page.is_visible(f'[data-message-id="{mid}"] [data-action="continue-reply"]')

    # The Stop button does the same as Esc.
    chat.send(words(400, "s"))
    second = chat.new_reply([mid])
    chat.watch(second, until=frozenset({"streaming"}))
    chat.page.click("#stop")
    assert chat.watch(second)[-1].status == "cancelled"
    reply = stored(chat_server, second)
    assert chat.wait_text(second, reply["content"]) == reply["content"]


GAP = (
    "() => { const s = document.getElementById('scroller');"
    " return s.scrollHeight - s.scrollTop - s.clientHeight; }"
)


def test_the_view_follows_the_reply_unless_the_reader_scrolled_up(
    context: BrowserContext, chat_server: Server
) -> None:
    chat = ChatPage.open(context, chat_server.url, chat_server.token)
    page = chat.page
    page.wait_for_selector("#welcome:not([hidden])")
    chat.send(words(600, "a"))
    mid = chat.new_reply([])
    chat.wait_length(mid, 300)
    assert page.evaluate(GAP) < 48, "the view follows the text"
    page.mouse.move(640, 300)
    page.mouse.wheel(0, -1500)
    page.wait_for_selector("#jump", state="visible")
    held = page.evaluate("document.getElementById('scroller').scrollTop")
    shown = len(chat.read(mid).text)
    chat.wait_length(mid, shown + 100)
    assert page.evaluate("document.getElementById('scroller').scrollTop") == held
    assert page.evaluate(GAP) > 200, "the text grew below; the view stayed where the reader is"
    page.click("#jump")
    page.wait_for_function(f"() => ({GAP})() < 48")
    page.wait_for_selector("#jump", state="hidden")
    page.keyboard.press("Escape")
    assert chat.watch(mid)[-1].status == "cancelled"


def test_reload_mid_reply_shows_the_text_so_far_and_streams_to_the_end(
    context: BrowserContext, chat_server: Server
) -> None:
    cid = new_conversation(chat_server, "reload")
    chat = ChatPage.open(context, chat_server.url, chat_server.token, cid)
    chat.wait_connected()
    text = words(160)
    chat.send(text)
    mid = chat.new_reply([])
    chat.wait_length(mid, 80)
    chat.page.reload()
    # The token is gone from the address bar, yet the tab is still signed in.
    assert "token=" not in chat.page.url
    chat.page.wait_for_selector(f'[data-message-id="{mid}"]')
    first = chat.read(mid)
    assert first is not None
    assert first.status == "streaming"
    assert first.text, "the text so far shows at once"
    assert text.startswith(first.text)
    samples = chat.watch(mid)
    assert samples[-1].status == "complete"
    assert any(len(s.text) > len(first.text) for s in samples if s.status == "streaming")
    reply = stored(chat_server, mid)
    assert reply["content"] == text
    assert chat.wait_text(mid, text) == text, "nothing cut, nothing doubled"


def test_two_tabs_show_the_same_reply_as_it_streams(
    context: BrowserContext, chat_server: Server
) -> None:
    cid = new_conversation(chat_server, "two tabs")
    one = ChatPage.open(context, chat_server.url, chat_server.token, cid)
    two = ChatPage.open(context, chat_server.url, chat_server.token, cid)
    one.wait_connected()
    two.wait_connected()
    text = words(100, "t")
    one.send(text)
    mid = one.new_reply([])
    seen = two.watch(two.new_reply([]))
    assert len({len(s.text) for s in seen if s.status == "streaming" and s.text}) >= 2
    one.watch(mid)
    reply = stored(chat_server, mid)
    assert reply["content"] == text
    assert one.wait_text(mid, text) == two.wait_text(mid, text) == text
    # The other tab shows the question too, though it did not send it.
    questions = two.page.eval_on_selector_all(
        "article.user .msg-body", "els => els.map(e => e.textContent)"
    )
    assert questions == [text]


def test_a_dropped_socket_reconnects_and_resumes_after_the_last_seq(
    context: BrowserContext, chat_server: Server
) -> None:
    proxy = Proxy(chat_server.port)
    try:
        cid = new_conversation(chat_server, "cut")
        chat = ChatPage.open(context, proxy.url, chat_server.token, cid)
        chat.wait_connected()
        text = words(160, "r")
        chat.send(text)
        mid = chat.new_reply([])
        chat.wait_length(mid, 60)
        chat.page.evaluate(RECORD_BADGE)
        assert proxy.cut_upgrades() == 1
        chat.page.wait_for_function("() => window.badgeStates.includes('reconnecting')")
        chat.wait_connected()
        assert chat.watch(mid)[-1].status == "complete"
        assert proxy.upgrades >= 2
        reply = stored(chat_server, mid)
        assert reply["content"] == text
        assert chat.wait_text(mid, text) == text
    finally:
        proxy.close()
