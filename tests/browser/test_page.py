"""The page around the stream: sign-in by the URL's token, the empty state with its persona
picker, markdown with code blocks, rename and delete, model output that cannot run script,
and a phone-sized screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Route

from tests.browser.pages import ChatPage, new_conversation, png, stored
from tests.helpers.server import Server, start_server

CODE = '''import asyncio


async def stream(text: str, delay: float = 0.05):
    """Yield the words of `text` one at a time."""
    for word in text.split():
        yield word
        await asyncio.sleep(delay)'''

QUESTION = "How do I stream the words of a text one at a time with asyncio?"

MARKDOWN = f"""## Streaming words

Here is a small **async generator** that yields one word at a time, with a `delay` between words:

```python
{CODE}
```

- Each word arrives as soon as it is ready.
- The caller decides what to do with it, for example *print it*."""

HOSTILE = (
    'Look: <script>window.pwned = "script"; alert("script")</script> and '
    "<img src=x onerror=\"window.pwned = 'img'; alert('img')\"> and "
    '<svg onload=alert("svg")></svg> <iframe src="javascript:alert(1)"></iframe> '
    '[click me](javascript:alert("link")) <a href="javascript:alert(2)">raw link</a> '
    "<javascript:alert(3)> done"
)


@pytest.fixture(scope="module")
def writer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A scripted model that answers every question with the same markdown."""
    server = start_server(
        tmp_path_factory.mktemp("writer"),
        {
            "TOKENWIRE_SCRIPTED_TEXT": MARKDOWN,
            "TOKENWIRE_SCRIPTED_DELAY_MS": "30",
            "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "3",
        },
    )
    yield server
    server.stop()


def test_login_by_url_token_then_the_empty_state(
    context: BrowserContext, chat_server: Server, screenshots: Path
) -> None:
    chat = ChatPage.open(context, chat_server.url, chat_server.token)
    page = chat.page
    page.wait_for_selector("#welcome:not([hidden])")
    assert "token" not in page.url, "the token leaves the address bar"
    # The token was traded for an HttpOnly cookie: no script can read it, none is kept.
    assert page.evaluate("JSON.stringify(sessionStorage) + document.cookie") == "{}"
    assert page.locator('input[name="persona"]').count() >= 1
    assert page.locator('input[name="persona"]:checked').count() == 1
    chat.wait_connected()
    assert page.evaluate("document.activeElement.id") == "input"
    page.screenshot(path=screenshots / "empty.png")
    page.reload()
    page.wait_for_selector("#welcome:not([hidden])")
    assert page.is_hidden("#login"), "a reload stays signed in"

    # A wrong token lands on the sign-in form, which takes a good one.
    other = context.new_page()
    other.goto(f"{chat_server.url}/?token=tw_not_a_token")
    other.wait_for_selector("#login:not([hidden])")
    assert "wasn't accepted" in other.inner_text("#login-error")
    other.fill("#login-token", chat_server.token)
    other.press("#login-token", "Enter")
    other.wait_for_selector("#welcome:not([hidden])")


def test_markdown_with_a_code_block_rename_and_delete(
    context: BrowserContext, writer: Server, screenshots: Path
) -> None:
    chat = ChatPage.open(context, writer.url, writer.token)
    page = chat.page
    page.wait_for_selector("#welcome:not([hidden])")
    # Shift+Enter adds a line; Enter sends.
    page.fill("#input", QUESTION)
    page.press("#input", "Shift+Enter")
    page.keyboard.type("Keep it short.")
    assert page.input_value("#input") == QUESTION + "\nKeep it short."
    page.press("#input", "Enter")
    mid = chat.new_reply([])
    assert chat.watch(mid)[-1].status == "complete"
    reply = stored(writer, mid)
    assert reply["content"] == MARKDOWN
    with writer.client() as client:
        history = client.get(f"/api/v1/conversations/{reply['conversation_id']}/messages")
    assert history.json()["items"][0]["content"] == QUESTION + "\nKeep it short."
    article = f'article[data-message-id="{mid}"]'
    page.wait_for_selector(f"{article} .msg-copy")
    assert page.text_content(f"{article} pre code") == CODE
    assert page.get_attribute(f"{article} pre code", "class") == "language-python"
    assert page.text_content(f"{article} h2") == "Streaming words"  # ## is an h2, as written
    assert page.locator(f"{article} li").all_text_contents() == [
        "Each word arrives as soon as it is ready.",
        "The caller decides what to do with it, for example print it.",
    ]
    assert page.text_content(f"{article} p code") == "delay"
    assert page.text_content(f"{article} strong") == "async generator"
    page.mouse.move(0, 0)
    page.screenshot(path=screenshots / "finished-code-block.png")

    # The new conversation is in the sidebar under the title the server wrote for it once
    # the reply ended: the page sets none of its own.
    cid = page.url.split("#/c/")[1]
    item = f'li.conv[data-id="{cid}"]'
    page.wait_for_function(
        "(sel) => (document.querySelector(sel)?.textContent || 'New chat') !== 'New chat'",
        arg=f"{item} .conv-link",
    )
    with writer.client() as client:
        title = client.get(f"/api/v1/conversations/{cid}").json()["title"]
    assert title
    assert page.text_content(f"{item} .conv-link") == title
    assert page.text_content("#chat-title") == title
    assert page.get_attribute(f"{item} .conv-link", "aria-current") == "page"
    page.click(f'{item} [data-action="rename"]')
    page.fill(f"{item} input", "Async words")
    page.press(f"{item} input", "Enter")
    page.wait_for_selector(f'{item} .conv-link:text-is("Async words")')
    assert page.text_content("#chat-title") == "Async words"
    with writer.client() as client:
        assert client.get(f"/api/v1/conversations/{cid}").json()["title"] == "Async words"

    # Newest first: a conversation that just had activity moves to the top.
    older = new_conversation(writer, "older")
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    page.wait_for_selector(f'li.conv[data-id="{older}"]')
    page.fill("#input", "bump")
    page.press("#input", "Enter")
    page.wait_for_function("cid => document.querySelector('li.conv').dataset.id === cid", arg=cid)

    page.click(f'{item} [data-action="delete"]')
    page.click(f'{item} [data-action="confirm-delete"]')
    page.wait_for_selector(item, state="detached")
    page.wait_for_selector("#welcome:not([hidden])")
    with writer.client() as client:
        assert client.get(f"/api/v1/conversations/{cid}").status_code == 404
    assert chat.errors == []


def test_model_output_with_script_and_img_onerror_runs_nothing(
    context: BrowserContext, chat_server: Server
) -> None:
    chat = ChatPage.open(context, chat_server.url, chat_server.token)
    page = chat.page
    page.wait_for_selector("#welcome:not([hidden])")
    chat.send(HOSTILE)
    mid = chat.new_reply([])
    assert chat.watch(mid)[-1].status == "complete"
    assert stored(chat_server, mid)["content"] == HOSTILE  # the model said exactly this
    page.wait_for_timeout(300)  # long enough for an <img src=x> to fail and fire onerror
    assert chat.dialogs == []
    assert page.evaluate("window.pwned") is None
    for role in ("user", "assistant"):
        body = f"article.{role} .msg-body"
        assert page.locator(f"{body} :is(script, img, svg, iframe, object, embed)").count() == 0
        text = page.text_content(body) or ""
        assert '<script>window.pwned = "script"; alert("script")</script>' in text
        assert "<img src=x onerror=\"window.pwned = 'img'; alert('img')\">" in text
    assert page.locator('a[href^="javascript" i]').count() == 0
    assert page.locator("[onerror], [onload], [onclick]").count() == 0
    # The markdown link with a javascript: target keeps its words, not its target.
    assert "click me" in (page.text_content("article.assistant .msg-body") or "")
    assert chat.errors == []


STRICT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def test_the_page_runs_under_a_csp_without_unsafe_inline(
    context: BrowserContext, writer: Server
) -> None:
    """No inline script, handler or style: the page works under a strict policy, WebSocket
    and attached images included, and the browser reports no violation."""

    def with_csp(route: Route) -> None:
        response = route.fetch()
        headers = {**response.headers, "content-security-policy": STRICT_CSP}
        route.fulfill(response=response, headers=headers)

    page = context.new_page()
    page.route(f"{writer.url}/", with_csp)
    page.add_init_script(
        "window.violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    chat = ChatPage(page)
    page.goto(f"{writer.url}/?token={writer.token}")
    page.wait_for_selector("#welcome:not([hidden])")
    page.fill("#input", QUESTION)
    page.set_input_files(
        "#file-input", [{"name": "dot.png", "mimeType": "image/png", "buffer": png(2, 2)}]
    )
    page.wait_for_selector("#attachments li img")
    page.press("#input", "Enter")
    mid = chat.new_reply([])
    assert chat.watch(mid)[-1].status == "complete"
    chat.wait_connected()  # the WebSocket too
    page.wait_for_selector("article.user .msg-images img")
    assert page.evaluate("window.violations") == []
    assert page.evaluate("document.querySelectorAll('[style]').length") == 0
    # The policy is in force: a style attribute, which the page never uses, is refused.
    page.evaluate(
        "document.body.appendChild(document.createElement('b')).setAttribute('style', 'x')"
    )
    page.wait_for_function("window.violations.length > 0")
    assert page.evaluate("window.violations") == ["style-src-attr inline"]
    assert chat.errors == []


def test_phone_sized_screen(browser: Browser, writer: Server, screenshots: Path) -> None:
    cid = new_conversation(writer, "On a phone")
    with writer.client() as client:
        client.post(f"/api/v1/conversations/{cid}/messages", json={"content": QUESTION})
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        chat = ChatPage.open(context, writer.url, writer.token, cid)
        page = chat.page
        chat.wait_connected()
        page.wait_for_selector("article.assistant[data-status=complete] pre code")
        assert page.is_hidden("#sidebar") or not page.locator("#sidebar").is_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, "nothing is wider than the screen"
        box = page.locator("#input").bounding_box()
        assert box is not None
        assert box["width"] > 250
        page.screenshot(path=screenshots / "phone.png")
        page.click("#open-sidebar")
        page.wait_for_selector("#sidebar", state="visible")
        page.wait_for_selector(f'li.conv[data-id="{cid}"]')
        page.wait_for_timeout(250)  # the drawer slides in
        page.screenshot(path=screenshots / "phone-conversations.png")
        page.keyboard.press("Escape")
        page.wait_for_selector("#sidebar", state="hidden")
        assert page.get_attribute("#open-sidebar", "aria-expanded") == "false"
    finally:
        context.close()
