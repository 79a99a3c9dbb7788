"""When things go wrong: a message too large to send (413) is explained in plain words with
the message and its image kept and a retry; a server that goes away mid-reply shows the reply
as interrupted, the badge goes offline, and the page reconnects when the server is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.pages import ChatPage, new_conversation, png, stored, words
from tests.conftest import ServerFactory
from tests.helpers.server import Server, start_server
from tests.providers.served import openai_server
from tests.providers.upstream import Reply, UpstreamThread

BODY_LIMIT = 8192  # the server's request body limit: a larger image cannot be sent


@pytest.fixture(scope="module")
def image_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("images"),
        {"TOKENWIRE_MAX_BODY_BYTES": str(BODY_LIMIT), "TOKENWIRE_SCRIPTED_DELAY_MS": "20"},
    )
    yield server
    server.stop()


def test_image_errors_are_explained_and_the_message_is_kept(
    context: BrowserContext, image_server: Server, screenshots: Path
) -> None:
    chat = ChatPage.open(context, image_server.url, image_server.token)
    page = chat.page
    page.wait_for_selector("#welcome:not([hidden])")
    question = "What is in this picture?"

    big = png(64, 64)
    assert len(big) > BODY_LIMIT
    page.fill("#input", question)
    page.set_input_files(
        "#file-input", [{"name": "big.png", "mimeType": "image/png", "buffer": big}]
    )
    page.wait_for_selector("#attachments li")
    page.press("#input", "Enter")
    page.wait_for_selector("#send-error:not([hidden])")
    assert page.inner_text("#send-error-text") == (
        "The message and its images are too large to send together. "
        "Remove an image or use smaller ones."
    )
    assert page.input_value("#input") == question, "the message stays in the box"
    assert page.locator("#attachments li").count() == 1, "and so does the image"
    assert page.is_visible("#retry")
    assert page.locator("article.user").count() == 0
    page.mouse.move(0, 0)
    page.screenshot(path=screenshots / "error.png")

    # Retry sends the same draft again (it is still too large, and says so again).
    page.click("#retry")
    page.wait_for_selector("#send-error:not([hidden])")
    assert "too large" in page.inner_text("#send-error-text")
    assert page.input_value("#input") == question

    page.click(".attachment-remove")
    # A file that is not a picture at all is refused before it is sent.
    page.set_input_files(
        "#file-input", [{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}]
    )
    page.wait_for_function(
        "() => document.getElementById('send-error-text').textContent.includes('notes.txt')"
    )
    assert page.locator("#attachments li").count() == 0

    # A small picture goes through and shows in the question.
    page.set_input_files(
        "#file-input", [{"name": "small.png", "mimeType": "image/png", "buffer": png(8, 8)}]
    )
    page.wait_for_selector("#attachments li")
    page.press("#input", "Enter")
    mid = chat.new_reply([])
    assert chat.watch(mid)[-1].status == "complete"
    assert page.is_hidden("#send-error")
    assert page.input_value("#input") == ""
    page.wait_for_selector('article.user .msg-images img[src^="data:image/png;base64,"]')
    reply = stored(image_server, mid)
    with image_server.client() as client:
        question_row = client.get(f"/api/v1/messages/{reply['reply_to']}").json()
    assert question_row["content"] == question
    assert len(question_row["images"]) == 1
    assert chat.errors == []


def test_server_gone_mid_reply_then_back(
    context: BrowserContext, server_factory: ServerFactory, screenshots: Path
) -> None:
    server = server_factory(shutdown_grace_s=0, scripted_delay_ms=40, scripted_chunk_words=1)
    cid = new_conversation(server, "Through a restart")
    chat = ChatPage.open(context, server.url, server.token, cid)
    chat.wait_connected()
    text = words(300, "x")
    chat.send(text)
    mid = chat.new_reply([])
    chat.wait_length(mid, 60)
    server.stop()  # SIGTERM: replies still running end as interrupted, partial text kept
    assert chat.watch(mid)[-1].status == "interrupted"
    chat.page.wait_for_selector('#badge[data-state="offline"]')
    article = f'article[data-message-id="{mid}"]'
    assert "interrupted" in chat.page.inner_text(f"{article} .reply-error")
    chat.page.screenshot(path=screenshots / "error-interrupted.png")

    back = start_server(
        server.data_dir,
        {"TOKENWIRE_TOKEN": server.token, "TOKENWIRE_SCRIPTED_DELAY_MS": "20"},
        port=server.port,
    )
    try:
        chat.wait_connected(timeout=90)
        # The same address and token as before the restart.
        reply = stored(server, mid)
        assert reply["status"] == "interrupted"
        assert 0 < len(reply["content"]) < len(text)
        assert chat.wait_text(mid, reply["content"]) == reply["content"]
        # "Try again" regenerates: a new version of the reply, on the server that is back;
        # the question shows once, and the interrupted reply is kept as version 1.
        chat.page.click(f'{article} [data-action="retry-reply"]')
        retried = chat.new_reply([mid])
        assert chat.watch(retried)[-1].status == "complete"
        assert stored(server, retried)["content"] == text
        assert chat.page.locator("article.user").count() == 1
        count = f'article[data-message-id="{retried}"] .versions-count'
        chat.page.wait_for_selector(count)
        assert chat.page.inner_text(count) == "2 / 2"
    finally:
        back.stop()


def test_a_model_that_reads_no_images_is_offered_none(
    context: BrowserContext, server_factory: ServerFactory
) -> None:
    """With a model that takes no images the page hides the attach button, and an image
    pasted or dropped anyway is explained rather than sent to a certain 422."""
    with UpstreamThread(Reply(deltas=("Text", " only"))) as up:
        server = openai_server(server_factory, up, openai_images="false")
        chat = ChatPage.open(context, server.url, server.token)
        page = chat.page
        page.wait_for_selector("#welcome:not([hidden])")
        assert page.is_hidden("#attach")
        # What a drop or a paste hands the composer, without the button.
        page.evaluate(
            """() => {
                const file = new File([new Uint8Array([137, 80, 78, 71])], "photo.png",
                                      {type: "image/png"});
                const drop = new DataTransfer();
                drop.items.add(file);
                document.getElementById("main").dispatchEvent(
                    new DragEvent("drop", {dataTransfer: drop, bubbles: true, cancelable: true}));
            }"""
        )
        page.wait_for_selector("#send-error:not([hidden])")
        assert page.inner_text("#send-error-text") == (
            "This server's model doesn't read images: send the message as text."
        )
        assert page.locator("#attachments li").count() == 0
        chat.send("Hello")
        mid = chat.new_reply([])
        assert chat.watch(mid)[-1].status == "complete"
        reply = stored(server, mid)
        assert reply["content"] == "Text only"
        with server.client() as client:
            question = client.get(f"/api/v1/messages/{reply['reply_to']}").json()
        assert (question["content"], question["images"]) == ("Hello", [])
        assert chat.errors == []


def test_a_model_that_reads_images_is_offered_them(
    context: BrowserContext, image_server: Server
) -> None:
    chat = ChatPage.open(context, image_server.url, image_server.token)
    chat.page.wait_for_selector("#welcome:not([hidden])")
    assert chat.page.is_visible("#attach")
