"""The canonical API takes the same turn options as the OpenAI dialect (OpenAI's shapes):
over HTTP and WebSocket, honoured or refused by name; tool calls stream as
``message.tool_call`` events and are stored with the reply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.helpers.server import Server, sse_events, text_of
from tests.providers.served import ServerFactory, conversation, openai_server, stream
from tests.providers.upstream import Reply, Upstream, UpstreamThread

WEATHER = {"type": "function", "function": {"name": "get_weather"}}


def test_http_send_honours_length_and_stop(server: Server) -> None:
    with server.client() as client:
        cid = conversation(client)
        cut = stream(client, cid, content="one two three four five six", max_tokens=1)
        stopped = stream(client, cid, content="one two three four five six", stop=" four")
    assert text_of(cut) == "one two three"
    assert cut[-1]["finish_reason"] == "length"
    assert text_of(stopped) == "one two three"
    assert stopped[-1]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"top_k": 3}, "top_k"),
        ({"tools": [WEATHER]}, "tools"),  # the scripted model cannot call tools
    ],
)
def test_http_send_refuses_by_name(server: Server, body: dict[str, Any], param: str) -> None:
    with server.client() as client:
        cid = conversation(client)
        response = client.post(
            f"/api/v1/conversations/{cid}/messages", json={"content": "x", **body}
        )
        assert response.status_code == 400, response.text
        assert param in response.text
        # Nothing was stored.
        assert client.get(f"/api/v1/conversations/{cid}/messages").json()["items"] == []


def test_ws_send_honours_length_and_names_what_it_refuses(server: Server) -> None:
    with server.client() as client:
        cid = conversation(client)
    url = f"{server.ws_url}/api/v1/conversations/{cid}/ws?token={server.token}"
    with connect(url) as ws:
        ws.send(json.dumps({"type": "message.send", "content": "a b c d e f", "max_tokens": 1}))
        events: list[dict[str, Any]] = []
        while not events or events[-1]["type"] not in ("message.end", "message.error"):
            events.append(json.loads(ws.recv(10)))
        assert text_of(events) == "a b c"
        assert events[-1]["finish_reason"] == "length"
        ws.send(json.dumps({"type": "message.send", "content": "x", "top_p": 2}))
        error = json.loads(ws.recv(10))
        assert error["type"] == "error"
        assert "top_p" in error["error"]["message"]


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with UpstreamThread() as up:
        yield up


def test_tool_calls_are_events_and_stored_messages(
    server_factory: ServerFactory, upstream: Upstream
) -> None:
    pieces = [
        {
            "index": 0,
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        },
        {"index": 0, "function": {"arguments": "{}"}},
    ]
    upstream.replies = [
        Reply(deltas=["Checking."], tool_calls=pieces, finish_reason="tool_calls"),
        Reply(deltas=["Sunny."]),
    ]
    server = openai_server(server_factory, upstream)
    with server.client() as client:
        cid = conversation(client)
        asked = stream(client, cid, content="Weather?", tools=[WEATHER])
        calls = [e for e in asked if e["type"] == "message.tool_call"]
        assert [(c["index"], c["id"], c["name"], c["arguments"]) for c in calls] == [
            (0, "call_a", "get_weather", ""),
            (0, None, None, "{}"),
        ]
        assert asked[-1]["finish_reason"] == "tool_calls"
        answered = stream(client, cid, content="sunny", tool_call_id="call_a", tools=[WEATHER])
        assert text_of(answered) == "Sunny."
        items = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
        # A resume of the reply replays its tool-call events too.
        reply_id = asked[0]["message_id"]
        with client.stream("GET", f"/api/v1/messages/{reply_id}/events?after=0") as response:
            replayed = list(sse_events(response))
    assert [(m["role"], m["content"]) for m in items] == [
        ("user", "Weather?"),
        ("assistant", "Checking."),
        ("tool", "sunny"),
        ("assistant", "Sunny."),
    ]
    assert items[1]["metadata"]["tool_calls"] == [
        {"id": "call_a", "name": "get_weather", "arguments": "{}", "seq": 3}
    ]
    assert items[2]["metadata"]["tool_call_id"] == "call_a"
    assert [e["type"] for e in replayed][-1] == "message.end"
    assert any(e["type"] == "message.tool_call" for e in replayed)
    # The model's second request carried the call and its result.
    assert upstream.requests[1]["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
    ]
