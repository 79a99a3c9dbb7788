"""An OpenAI-compatible upstream behind a real ``tokenwire serve``: streaming, cancel, failures,
and the fallback chain to the embedded model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.server import sse_events, text_of
from tests.providers.served import (
    ServerFactory,
    conversation,
    openai_server,
    stored_reply,
    stream,
)
from tests.providers.upstream import Reply, UpstreamThread


@pytest.fixture
def upstream() -> Iterator[UpstreamThread]:
    thread = UpstreamThread()
    with thread:
        yield thread


def test_a_reply_streams_from_the_upstream(
    server_factory: ServerFactory, upstream: UpstreamThread
) -> None:
    up = upstream.upstream
    up.replies = [Reply(deltas=["Hello", " from", " upstream."])]
    server = openai_server(server_factory, up)
    with server.client() as client:
        events = stream(client, conversation(client), content="Hi there")
    assert text_of(events) == "Hello from upstream."
    end = events[-1]
    assert end["type"] == "message.end"
    assert end["usage"] == {"prompt_tokens": 11, "completion_tokens": 3}
    body = up.requests[0]
    assert body["model"] == "up-model"
    assert body["messages"][-1] == {"role": "user", "content": "Hi there"}
    assert up.headers[0]["authorization"] == "Bearer sk-test"


def test_cancel_closes_the_upstream_request(
    server_factory: ServerFactory, upstream: UpstreamThread
) -> None:
    up = upstream.upstream
    up.replies = [Reply(deltas=[f" word{i}" for i in range(400)], delay=0.05)]
    server = openai_server(server_factory, up)
    with server.client() as client:
        cid = conversation(client)
        started = threading.Event()
        events: list[dict[str, Any]] = []

        def watch() -> None:
            with (
                server.client() as watcher,
                watcher.stream(
                    "POST",
                    f"/api/v1/conversations/{cid}/messages",
                    json={"content": "Talk for a long time"},
                    headers={"Accept": "text/event-stream"},
                ) as response,
            ):
                for event in sse_events(response):
                    events.append(event)
                    if event["type"] == "message.delta" and event["seq"] >= 3:
                        started.set()

        runner = threading.Thread(target=watch)
        runner.start()
        assert started.wait(30)
        reply_id = events[0]["message_id"]
        cancelled = client.post(f"/api/v1/messages/{reply_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        runner.join(30)
        # The upstream saw its client go away with most of the reply still unsent.
        assert upstream.wait_disconnect(5)
        assert events[-1]["type"] == "message.end"
        assert events[-1]["finish_reason"] == "cancelled"
        reply = stored_reply(client, cid)
        assert reply["status"] == "cancelled"
        assert reply["content"] == text_of(events)
        assert 0 < len(reply["content"]) < len("".join(f" word{i}" for i in range(400)))


@pytest.mark.parametrize(
    ("reply", "code", "retryable"),
    [
        (Reply(status=429, headers={"Retry-After": "3"}), "upstream_rate_limited", True),
        (Reply(status=503), "upstream_unavailable", True),
        (
            Reply(status=400, body=b'{"error": {"message": "bad model"}}'),
            "upstream_rejected",
            False,
        ),
        (Reply(raw=[b"data: {not json\n\n"]), "upstream_malformed", False),
        (Reply(deltas=["Half", " a"], cut=True), "upstream_incomplete", True),
        (Reply(deltas=["Half", " a"], done=False), "upstream_incomplete", True),
    ],
)
def test_upstream_failures_become_message_errors_and_keep_the_partial(
    server_factory: ServerFactory,
    upstream: UpstreamThread,
    reply: Reply,
    code: str,
    retryable: bool,
) -> None:
    upstream.upstream.replies = [reply]
    server = openai_server(server_factory, upstream.upstream)
    with server.client() as client:
        cid = conversation(client)
        events = stream(client, cid, content="Hi")
        error = events[-1]
        assert error["type"] == "message.error"
        assert error["error"]["code"] == code
        assert error["error"]["retryable"] is retryable
        assert error["error"]["message"]
        stored = stored_reply(client, cid)
        assert stored["status"] == "error"
        assert stored["content"] == text_of(events)


def test_unreachable_and_slow_upstreams(server_factory: ServerFactory) -> None:
    dead = server_factory(provider="openai", openai_base_url="http://127.0.0.1:9/v1")
    with dead.client() as client:
        error = stream(client, conversation(client), content="Hi")[-1]
    assert (error["error"]["code"], error["error"]["retryable"]) == ("upstream_unreachable", True)
    with UpstreamThread(Reply(hang=True)) as up:
        slow = openai_server(server_factory, up, openai_timeout_s=0.5)
        with slow.client() as client:
            error = stream(client, conversation(client), content="Hi")[-1]
    assert (error["error"]["code"], error["error"]["retryable"]) == ("upstream_timeout", True)


def test_failure_before_the_first_token_falls_back_invisibly(
    server_factory: ServerFactory, upstream: UpstreamThread
) -> None:
    up = upstream.upstream
    up.replies = [Reply(status=502)]
    server = openai_server(server_factory, up, providers="openai,llama", max_tokens=6)
    with server.client() as client:
        cid = conversation(client)
        events = stream(client, cid, content="Say hello.")
        assert {e["type"] for e in events} == {"message.start", "message.delta", "message.end"}
        assert text_of(events).strip()
        [switch] = stored_reply(client, cid)["metadata"]["fallbacks"]
    assert (switch["from"], switch["to"], switch["after_chars"]) == ("openai", "llama", 0)
    assert switch["reason"].startswith("upstream_unavailable")


def test_failure_mid_reply_continues_on_the_embedded_model(
    server_factory: ServerFactory, upstream: UpstreamThread
) -> None:
    up = upstream.upstream
    up.replies = [Reply(deltas=["One,", " two,", " three,"], cut=True)]
    server = openai_server(
        server_factory, up, providers="openai,llama", max_tokens=6, temperature=0
    )
    with server.client() as client:
        cid = conversation(client)
        events = stream(client, cid, content="Count from one to ten in words.")
        text = text_of(events)
        reply = stored_reply(client, cid)
    # One continuous reply: the upstream's part, then the embedded model's continuation.
    assert events[-1]["type"] == "message.end"
    assert text.startswith("One, two, three,")
    assert "four" in text[len("One, two, three,") :].lower()
    assert reply["content"] == text
    assert reply["status"] == "complete"
    [switch] = reply["metadata"]["fallbacks"]
    assert (switch["from"], switch["to"]) == ("openai", "llama")
    assert switch["after_chars"] == len("One, two, three,")
