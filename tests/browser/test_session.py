"""Signing in lasts: the link's token becomes an HttpOnly session cookie, so a new tab and a
restarted browser are still signed in; Sign out ends that session for every tab."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext

from tests.browser.pages import ChatPage, new_conversation, serious_violations
from tests.helpers.server import Server

COOKIE = "tokenwire_session"


def test_a_new_tab_and_a_restarted_browser_stay_signed_in(
    browser: Browser, context: BrowserContext, chat_server: Server, tmp_path: Path
) -> None:
    chat = ChatPage.open(context, chat_server.url, chat_server.token)
    chat.wait_connected()
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert cookie["value"] != chat_server.token
    assert cookie["expires"] > time.time() + 7 * 86400, "it outlives the browser's session"

    # A conversation opened in a new tab, from a link without any token.
    cid = new_conversation(chat_server, "from another tab")
    tab = context.new_page()
    tab.goto(f"{chat_server.url}/#/c/{cid}")
    tab.wait_for_selector("#shell:not([hidden])")
    tab.wait_for_selector('#badge[data-state="connected"][data-transport="ws"]')
    assert tab.is_hidden("#login")
    assert tab.text_content("#chat-title") == "from another tab"

    # The browser closes and opens again with its profile: the persistent cookie is there.
    profile = tmp_path / "profile.json"
    context.storage_state(path=profile)
    context.close()
    again = browser.new_context(storage_state=profile, viewport={"width": 1280, "height": 800})
    try:
        page = again.new_page()
        page.goto(f"{chat_server.url}/#/c/{cid}")
        page.wait_for_selector("#shell:not([hidden])")
        page.wait_for_selector('#badge[data-state="connected"]')
        assert page.text_content("#chat-title") == "from another tab"
    finally:
        again.close()


def test_sign_out_ends_the_session_in_every_tab(
    context: BrowserContext, chat_server: Server, screenshots: Path
) -> None:
    chat = ChatPage.open(context, chat_server.url, chat_server.token)
    chat.wait_connected()
    other = context.new_page()
    other.goto(chat_server.url)
    other.wait_for_selector("#shell:not([hidden])")

    chat.page.click("#sign-out")
    chat.page.wait_for_selector("#login:not([hidden])")
    assert chat.page.is_hidden("#shell")
    assert "signed out" in chat.page.inner_text("#login-error")
    assert [c for c in context.cookies() if c["name"] == COOKIE] == []
    assert chat.page.evaluate("document.activeElement.id") == "login-token"
    chat.page.screenshot(path=screenshots / "signed-out.png")
    assert serious_violations(chat.page) == []

    # The other tab's next request finds the session gone, and it asks for a token again.
    other.reload()
    other.wait_for_selector("#login:not([hidden])")
    # The sign-in page is a landmark of its own.
    assert other.locator("main#login").is_visible()

    # Signing in again with the token works from the form.
    chat.page.fill("#login-token", chat_server.token)
    chat.page.press("#login-token", "Enter")
    chat.page.wait_for_selector("#welcome:not([hidden])")
    chat.wait_connected()
    assert chat.errors == []
