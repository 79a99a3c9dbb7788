"""What a chat page is expected to have: copying a message (also over plain HTTP, where there
is no Clipboard API), timestamps, math, earlier messages on demand, a reply cut at the length
limit marked as such, the message box focused after opening a conversation; and no serious
accessibility failure in any of these states (axe-core)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.sync_api import Browser, BrowserContext

from tests.browser.pages import ChatPage, new_conversation, serious_violations
from tests.helpers.server import Server

# What the page copies: the text selected when the "copy" command runs, wherever it ran.
RECORD_COPIES = """
window.copied = [];
document.addEventListener("copy", (event) => {
  const t = event.target;
  window.copied.push(t && "value" in t ? t.value.slice(t.selectionStart, t.selectionEnd)
                                       : String(document.getSelection()));
}, true);
"""
# A page opened as http://192.168.1.20:8000 is not a secure context: no Clipboard API.
PLAIN_HTTP = """
Object.defineProperty(window, "isSecureContext", { get: () => false });
Object.defineProperty(Navigator.prototype, "clipboard", { get: () => undefined });
"""
CSP_VIOLATIONS = """
window.violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""

MATH = "Energy: $E = mc^2$, and $5 or $10 stay text.\n\n$$\n\\int_0^1 x^2\\,dx = \\frac{1}{3}\n$$"


STORY = (
    "Once upon a time there was a fox who knew the forest better than anyone, "
    "and she was known for it"
)


def cut_reply(server: Server) -> tuple[str, str]:
    """A conversation whose reply stopped at the length limit (``max_tokens`` of the
    OpenAI dialect: 4 chunks of 2 words of the echoed story); its id and the reply's text."""
    with server.client() as client:
        answer = client.post(
            "/v1/chat/completions",
            json={
                "model": "scripted",
                "messages": [{"role": "user", "content": STORY}],
                "max_tokens": 4,
            },
        )
        answer.raise_for_status()
        assert answer.json()["choices"][0]["finish_reason"] == "length"
        # The newest activity comes first: the conversation that request made.
        (newest,) = client.get("/api/v1/conversations", params={"limit": 1}).json()["items"]
    assert newest["kind"] == "openai"
    return newest["id"], answer.json()["choices"][0]["message"]["content"]


def finished_reply(chat: ChatPage, text: str) -> str:
    before = chat.reply_ids()
    chat.send(text)
    mid = chat.new_reply(before)
    assert chat.watch(mid)[-1].status == "complete"
    chat.page.wait_for_selector(f'[data-message-id="{mid}"] .msg-copy')
    return mid


def test_copy_a_message_with_the_clipboard_api(
    context: BrowserContext, chat_server: Server
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=chat_server.url)
    chat = ChatPage.open(context, chat_server.url, chat_server.token)
    chat.wait_connected()
    mid = finished_reply(chat, "copy **this** reply")
    chat.page.click(f'[data-message-id="{mid}"] .msg-copy')
    chat.page.wait_for_selector(f'[data-message-id="{mid}"] .msg-copy.copied')
    assert chat.page.evaluate("navigator.clipboard.readText()") == "copy **this** reply"
    # The user's own message has one too.
    chat.page.click("article.user .msg-copy")
    chat.page.wait_for_selector("article.user .msg-copy.copied")
    assert chat.page.evaluate("navigator.clipboard.readText()") == "copy **this** reply"
    assert chat.errors == []


def test_copy_falls_back_where_there_is_no_clipboard_api(
    browser: Browser, chat_server: Server, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(PLAIN_HTTP + RECORD_COPIES)
    try:
        chat = ChatPage.open(context, chat_server.url, chat_server.token)
        chat.wait_connected()
        assert chat.page.evaluate("navigator.clipboard === undefined && !isSecureContext")
        mid = finished_reply(chat, "a reply to copy over plain HTTP")
        chat.page.focus(f'[data-message-id="{mid}"] .msg-copy')
        chat.page.click(f'[data-message-id="{mid}"] .msg-copy')
        chat.page.wait_for_selector(f'[data-message-id="{mid}"] .msg-copy.copied')
        assert chat.page.evaluate("window.copied") == ["a reply to copy over plain HTTP"]
        assert chat.page.locator(".copy-buffer").count() == 0, "the buffer is gone again"
        assert "copy" in str(chat.page.evaluate("document.activeElement.className"))
        chat.page.wait_for_function(
            "() => document.getElementById('announcer').textContent.includes('Copied')"
        )
        chat.page.screenshot(path=screenshots / "copied-plain-http.png")
        assert chat.errors == []
    finally:
        context.close()


def test_timestamps_show_on_hover(
    context: BrowserContext, chat_server: Server, screenshots: Path
) -> None:
    chat = ChatPage.open(context, chat_server.url, chat_server.token)
    chat.wait_connected()
    mid = finished_reply(chat, "what time is it")
    reply = chat.page.locator(f'[data-message-id="{mid}"]')
    stamp = reply.locator("time.msg-time")
    chat.page.mouse.move(1, 1)
    assert not stamp.is_visible(), "quiet until asked for"
    reply.hover()
    assert stamp.is_visible()
    when = datetime.fromisoformat(str(stamp.get_attribute("datetime")).replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - when).total_seconds()) < 120
    assert str(stamp.get_attribute("title")).strip(), "the full date is in the title"
    chat.page.screenshot(path=screenshots / "timestamp-hover.png")
    # After a reload the time comes from the stored message, for the question as well.
    chat.page.reload()
    chat.page.wait_for_selector(f'[data-message-id="{mid}"] time.msg-time', state="attached")
    chat.page.locator("article.user").first.hover()
    assert chat.page.locator("article.user time.msg-time").first.is_visible()
    assert serious_violations(chat.page) == []


def test_math_is_drawn_by_the_vendored_katex_under_the_csp(
    browser: Browser, chat_server: Server, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(CSP_VIOLATIONS)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    try:
        chat = ChatPage.open(context, chat_server.url, chat_server.token)
        chat.wait_connected()
        mid = finished_reply(chat, MATH)
        body = f'[data-message-id="{mid}"] .msg-body'
        chat.page.wait_for_selector(f"{body} .katex-display")
        annotations = chat.page.eval_on_selector_all(
            f"{body} annotation", "els => els.map(e => e.textContent)"
        )
        assert annotations == ["E = mc^2", "\\int_0^1 x^2\\,dx = \\frac{1}{3}"]
        assert "$5 or $10 stay text" in chat.page.inner_text(body)
        # KaTeX's fonts came from this server, and nothing broke the page's policy.
        chat.page.wait_for_function("() => document.fonts.check('16px KaTeX_Main')")
        assert any("/vendor/katex/fonts/" in url for url in requests)
        assert all(url.startswith((chat_server.url, "data:")) for url in requests), requests
        assert chat.page.evaluate("window.violations") == []
        chat.page.screenshot(path=screenshots / "math.png")
        assert serious_violations(chat.page) == []
        assert chat.errors == []
    finally:
        context.close()


def test_opening_a_conversation_focuses_the_message_box(
    context: BrowserContext, chat_server: Server
) -> None:
    cid = new_conversation(chat_server, "focus me")
    chat = ChatPage.open(context, chat_server.url, chat_server.token)
    chat.wait_connected()
    chat.page.click(f'a[href="#/c/{cid}"]')
    chat.page.wait_for_function(
        "() => document.getElementById('chat-title').textContent === 'focus me'"
    )
    assert chat.page.evaluate("document.activeElement.id") == "input"
    chat.page.keyboard.type("typed straight away")
    assert chat.page.input_value("#input") == "typed straight away"


def test_load_earlier_messages(
    context: BrowserContext, chat_server: Server, screenshots: Path
) -> None:
    cid = new_conversation(chat_server, "a long one")
    with httpx.Client(base_url=chat_server.url, headers=chat_server.headers(), timeout=60) as c:
        for n in range(30):
            sent = c.post(f"/api/v1/conversations/{cid}/messages", json={"content": f"m{n}"})
            assert sent.status_code in (200, 201), sent.text
    chat = ChatPage.open(context, chat_server.url, chat_server.token, cid)
    chat.wait_connected()
    chat.page.wait_for_selector("#earlier:not([hidden])")
    assert chat.page.locator("article.msg").count() == 50, "one page of history"
    assert chat.page.inner_text("article.user >> nth=0").endswith("m5")
    chat.page.click("#earlier")
    chat.page.wait_for_function("() => document.querySelectorAll('article.msg').length === 60")
    assert chat.page.is_hidden("#earlier"), "nothing older is left"
    users = chat.page.eval_on_selector_all(
        "article.user .msg-body", "els => els.map(e => e.textContent)"
    )
    assert users == [f"m{n}" for n in range(30)], "in order, none twice"
    chat.page.screenshot(path=screenshots / "load-earlier.png")
    assert serious_violations(chat.page) == []


def test_a_reply_cut_at_the_length_limit_is_marked(
    context: BrowserContext, chat_server: Server, screenshots: Path
) -> None:
    cid, text = cut_reply(chat_server)
    chat = ChatPage.open(context, chat_server.url, chat_server.token, cid)
    chat.wait_connected()
    reply = "article.assistant"
    chat.page.wait_for_selector(f"{reply} .tag-cut")
    assert chat.page.inner_text(f"{reply} .msg-body") == text
    assert chat.page.inner_text(f"{reply} .tag-cut") == "Cut off"
    assert chat.page.is_visible(f'{reply} button[data-action="continue-reply"]')
    chat.page.screenshot(path=screenshots / "cut-off.png")
    assert serious_violations(chat.page) == []
    assert chat.errors == []
