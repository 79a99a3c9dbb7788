"""Any instance serves any request: resume, cancel and fan-out across instances."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.helpers.server import Server, send_streaming, sse_events, text_of
from tests.scaleout.conftest import Deployment

LONG = " ".join(f"word{i}" for i in range(60)) + " ✓ ünïcode\nand a second line."


def new_conversation(client: httpx.Client) -> str:
    return str(client.post("/api/v1/conversations", json={}).json()["id"])


def start_reply(client: httpx.Client, cid: str, content: str = LONG) -> str:
    response = client.post(
        f"/api/v1/conversations/{cid}/messages", params={"wait": "false"}, json={"content": content}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["assistant_message"]["id"])


def follow(server: Server, mid: str, after: int = -1) -> list[dict[str, Any]]:
    with (
        server.client() as client,
        client.stream(
            "GET", f"/api/v1/messages/{mid}/events", headers={"Last-Event-ID": str(after)}
        ) as response,
    ):
        assert response.status_code == 200
        return list(sse_events(response))


def test_a_reply_started_on_one_instance_resumes_byte_exact_on_another(
    deployment: Deployment,
) -> None:
    a, b = deployment(2, scripted_delay_ms=30, scripted_chunk_words=2)
    with a.client() as client:
        cid = new_conversation(client)
        with send_streaming(client, cid, LONG) as response:
            before: list[dict[str, Any]] = []
            for event in sse_events(response):
                before.append(event)
                if len(before) == 4:
                    break  # the connection drops here; the reply goes on
    mid = before[0]["message_id"]
    after = follow(b, mid, before[-1]["seq"])
    seqs = [e["seq"] for e in before + after]
    assert seqs == sorted(set(seqs)), "no event twice, none out of order"
    assert after[-1]["type"] == "message.end"
    assert text_of(before) + text_of(after) == LONG
    with b.client() as client:
        stored = client.get(f"/api/v1/messages/{mid}").json()
    assert (stored["status"], stored["content"]) == ("complete", LONG)
    everything = follow(b, mid)
    assert everything[0]["type"] == "message.start"
    assert text_of(everything) == LONG


def test_an_instance_that_starts_leaves_the_others_replies_running(
    deployment: Deployment,
) -> None:
    """Start-up recovery must not end replies that another live instance is running."""
    (a,) = deployment(1, scripted_delay_ms=50, scripted_chunk_words=1)
    with a.client() as client:
        mid = start_reply(client, new_conversation(client))
    (c,) = deployment(1)  # comes up while the reply runs on a, and sweeps at once
    events = follow(c, mid)
    assert events[-1]["type"] == "message.end"
    assert events[-1]["finish_reason"] == "stop"
    assert text_of(events) == LONG
    with c.client() as client:
        stored = client.get(f"/api/v1/messages/{mid}").json()
    assert stored["status"] == "complete"
    assert "takeover" not in stored["metadata"]


def test_a_cancel_sent_to_one_instance_stops_the_reply_running_on_another(
    deployment: Deployment,
) -> None:
    a, b = deployment(2, scripted_delay_ms=100, scripted_chunk_words=1)
    with a.client() as client:
        mid = start_reply(client, new_conversation(client))
    events: list[tuple[float, dict[str, Any]]] = []
    three_deltas = threading.Event()

    def watch_on_a() -> None:
        with a.client() as client, client.stream("GET", f"/api/v1/messages/{mid}/events") as r:
            for event in sse_events(r):
                events.append((time.monotonic(), event))
                if sum(e["type"] == "message.delta" for _, e in events) >= 3:
                    three_deltas.set()

    watcher = threading.Thread(target=watch_on_a)
    watcher.start()
    assert three_deltas.wait(10)
    with b.client() as client:
        sent = time.monotonic()
        response = client.post(f"/api/v1/messages/{mid}/cancel")
        took = time.monotonic() - sent
    watcher.join(10)
    print(f"cancel across instances: {took * 1000:.0f} ms")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    # The bound: generation on the other instance stops within 500 ms of the cancel,
    # and the answer comes back only once it has.
    assert took < 0.5, f"the cancel took {took:.3f} s"
    last_at, last = events[-1]
    assert last["type"] == "message.end"
    assert last["finish_reason"] == "cancelled"
    assert last_at - sent < 0.5
    deltas_after = [e for at, e in events if at > sent and e["type"] == "message.delta"]
    assert len(deltas_after) <= 5  # 100 ms apart: nothing much after the stop
    with a.client() as client:
        stored = client.get(f"/api/v1/messages/{mid}").json()
    assert stored["status"] == "cancelled"
    assert stored["content"] == text_of([e for _, e in events])
    assert LONG.startswith(stored["content"])


def open_ws(server: Server, cid: str) -> ClientConnection:
    return connect(f"{server.ws_url}/api/v1/conversations/{cid}/ws?token={server.token}")


def collect_reply(ws: ClientConnection) -> list[dict[str, Any]]:
    events = []
    while True:
        event = json.loads(ws.recv(10))
        if event["type"] in ("pong", "error"):
            continue
        events.append(event)
        if event["type"] in ("message.end", "message.error"):
            return events


def test_sockets_on_different_instances_see_the_same_stream(deployment: Deployment) -> None:
    a, b = deployment(2, scripted_delay_ms=20, scripted_chunk_words=3)
    with a.client() as client:
        cid = new_conversation(client)
    with open_ws(a, cid) as tab_a, open_ws(b, cid) as tab_b:
        for tab in (tab_a, tab_b):  # a pong proves the socket watches the conversation
            tab.send(json.dumps({"type": "ping"}))
            assert json.loads(tab.recv(10))["type"] == "pong"
        tab_a.send(json.dumps({"type": "message.send", "content": LONG}))
        seen_a, seen_b = collect_reply(tab_a), collect_reply(tab_b)
    for seen in (seen_a, seen_b):
        assert seen[0]["type"] == "message.start"
        assert seen[0]["user_message"]["content"] == LONG
        assert seen[-1]["type"] == "message.end"
        assert text_of(seen) == LONG
    assert seen_a[0] == seen_b[0]
    assert seen_a[-1] == seen_b[-1]
