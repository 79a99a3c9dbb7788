"""Seed 002: the React page's streaming client and handlers (``tests/seeds/chat_page.py``)
against a real server."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.helpers.server import Server, start_server
from tests.providers.served import openai_server
from tests.providers.upstream import Reply, UpstreamThread
from tests.seeds.chat_page import ChatPage

WORDS = " ".join(f"word{i}" for i in range(12))
ORIGIN = "http://app.example:5173"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "TOKENWIRE_SCRIPTED_DELAY_MS": "200",
        "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "1",
        "TOKENWIRE_MAX_BODY_BYTES": "4096",
        "TOKENWIRE_MAX_CONTENT_CHARS": "1000",
    }
    srv = start_server(tmp_path_factory.mktemp("page002"), env, args=["--cors", ORIGIN])
    yield srv
    srv.stop()


@contextlib.contextmanager
def page(server: Server, session_id: str) -> Iterator[ChatPage]:
    with server.client() as client:
        yield ChatPage(client, session_id)


def wait_listed(p: ChatPage, deadline_s: float = 20) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        p.refresh()
        if p.rendered and p.rendered[-1][0] == "assistant":
            return
        time.sleep(0.1)
    raise AssertionError(f"no answer listed: {p.rendered}")


def test_the_happy_path_renders_every_date(server: Server) -> None:
    with page(server, "happy") as p:
        p.send("Hello there, how are you today?")
        assert (p.status, p.error, p.ended) == (200, None, True)
        assert p.streaming == "Hello there, how are you today?"
        assert [(role, text) for role, text, _ in p.rendered] == [
            ("user", "Hello there, how are you today?"),
            ("assistant", "Hello there, how are you today?"),
        ]
        assert all(date is not None for _, _, date in p.rendered)  # no "Invalid Date"


def test_upper_case_ids_name_the_session_and_the_reply(server: Server) -> None:
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
    # A session named by a conversation id, in Swift's (or a user's) upper case.
    with page(server, cid.upper()) as p:
        p.send(WORDS, stop_after_tokens=2)
        assert p.message_id is not None
        with server.client() as client:
            stopped = client.post(f"/api/v1/messages/{p.message_id.upper()}/cancel")
            assert stopped.status_code == 200, stopped.text
            items = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
        assert items[-1]["id"] == p.message_id
        wait_listed(p)
        assert WORDS.startswith(p.rendered[-1][1])


@pytest.mark.parametrize("cut_after", [1, 4])
def test_a_reload_mid_reply_shows_the_answer_only_once_it_is_whole(
    server: Server, cut_after: int
) -> None:
    """The seed's page has no resume: a reload lists the session. It must not show the
    running reply's partial text as the answer."""
    with page(server, f"reload-{cut_after}") as p:
        p.send(WORDS, stop_after_tokens=cut_after)
        p.refresh()
        assert [role for role, _, _ in p.rendered] == ["user"]
        wait_listed(p)
        assert p.rendered[-1][1] == WORDS
        assert [role for role, _, _ in p.rendered] == ["user", "assistant"]


def test_every_refusal_is_an_error_event_the_page_shows(server: Server) -> None:
    cases = [
        ({"content": ""}, 400),
        ({"content": "x", "role": "assistant"}, 400),
        ({"content": "x" * 1500}, 413),  # content_too_long
        ({"content": "x" * 5000}, 413),  # over the body limit, refused before the route
    ]
    for body, status in cases:
        with (
            server.client() as client,
            client.stream("POST", "/sessions/refused/messages/stream", json=body) as response,
        ):
            p = ChatPage(client, "refused")
            assert response.status_code == status
            assert response.headers["content-type"].startswith("text/event-stream")
            p.on_chunk(json.loads(response.read().decode().removeprefix("data: ")))
            assert p.error, body
    with httpx.Client(base_url=server.url) as bare:
        anonymous = ChatPage(bare, "refused")
        anonymous.send("hi")
    assert (anonymous.status, bool(anonymous.error)) == (401, True)
    with server.client() as client:
        missing = client.get(f"/sessions/{uuid.uuid4()}/messages")
    assert missing.status_code == 404
    assert missing.json()["type"] == "error"


def test_a_browser_app_on_another_origin_passes_the_preflight(server: Server) -> None:
    """``tokenwire serve --cors ORIGIN``: the seed's "Access-Control-Allow-Origin"."""
    for method, path in [
        ("POST", "/sessions/s/messages/stream"),
        ("GET", "/sessions/s/messages"),
        ("POST", "/api/v1/messages/x/cancel"),
    ]:
        preflight = httpx.options(
            server.url + path,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200, (path, preflight.text)
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
    with server.client() as client:
        client.headers["Origin"] = ORIGIN
        big = client.post("/sessions/s/messages/stream", json={"content": "x" * 5000})
    assert big.status_code == 413
    assert big.headers["access-control-allow-origin"] == ORIGIN  # the page can read it


def test_a_failed_reply_is_shown_as_an_error(server_factory: ServerFactory) -> None:
    with UpstreamThread(Reply(deltas=("Half", " an", " answer"), delay=0.05, cut=True)) as up:
        srv = openai_server(server_factory, up)
        with srv.client() as client:
            p = ChatPage(client, "fails")
            p.send("Tell me")
            assert p.error
            assert not p.ended
            p.refresh()
        assert [role for role, _, _ in p.rendered] == ["user"]
