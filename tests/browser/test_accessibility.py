"""axe-core on the page's main states, light and dark, wide and phone-sized: no serious or
critical violation in any of them. (Sign-in and signed-out: test_session.py; a cut reply,
math, Load earlier, timestamps: test_chat_features.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.pages import ChatPage, new_conversation, serious_violations, words
from tests.helpers.server import Server

MARKDOWN = """## A heading

Some **bold** text, a [link](https://example.com) and `code`.

```python
print("hello")
```

| a | b |
| - | - |
| 1 | 2 |

> a quote"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_violation_in_the_main_states(
    browser: Browser, chat_server: Server, screenshots: Path, scheme: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
    context.set_default_timeout(10_000)
    try:
        chat = ChatPage.open(context, chat_server.url, chat_server.token)
        page = chat.page
        page.wait_for_selector("#welcome:not([hidden])")
        chat.wait_connected()
        found = {"empty": serious_violations(page)}

        chat.send(words(120))
        streaming = chat.new_reply([])
        chat.wait_length(streaming, 40)
        found["streaming"] = serious_violations(page)
        page.keyboard.press("Escape")
        chat.watch(streaming)
        found["stopped"] = serious_violations(page)

        before = chat.reply_ids()
        chat.send(MARKDOWN)
        done = chat.new_reply(before)
        assert chat.watch(done)[-1].status == "complete"
        page.wait_for_selector(f'[data-message-id="{done}"] .msg-copy')
        page.hover(f'[data-message-id="{done}"]')
        found["complete"] = serious_violations(page)
        page.screenshot(path=screenshots / f"axe-complete-{scheme}.png")

        # Rename in place, in the conversation list.
        page.hover("li.conv")
        page.click('li.conv [data-action="rename"]')
        page.wait_for_selector("input.conv-rename")
        found["renaming"] = serious_violations(page)
        page.keyboard.press("Escape")

        assert {state: v for state, v in found.items() if v} == {}
        assert chat.errors == []
    finally:
        context.close()


def test_no_serious_violation_on_a_phone(browser: Browser, chat_server: Server) -> None:
    cid = new_conversation(chat_server, "phone")
    with chat_server.client() as client:
        client.post(f"/api/v1/conversations/{cid}/messages", json={"content": MARKDOWN})
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        chat = ChatPage.open(context, chat_server.url, chat_server.token, cid)
        chat.wait_connected()
        chat.page.wait_for_selector("article.assistant[data-status=complete] pre code")
        found = {"conversation": serious_violations(chat.page)}
        chat.page.click("#open-sidebar")
        chat.page.wait_for_selector("#sidebar", state="visible")
        chat.page.wait_for_timeout(250)  # the drawer slides in
        found["drawer"] = serious_violations(chat.page)
        assert {state: v for state, v in found.items() if v} == {}
    finally:
        context.close()
