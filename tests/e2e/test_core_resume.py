"""Cutting streams and resuming them: the text must come out byte-exact, never doubled."""

from __future__ import annotations

import signal
import sqlite3
import time
from typing import Any

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.helpers.server import Server, send_streaming, sse_events, text_of

LONG = " ".join(f"word{i}" for i in range(60)) + " ✓ ünïcode\nand a second line."


def start_reply(client: httpx.Client, content: str = LONG) -> tuple[str, str]:
    cid = client.post("/api/v1/conversations", json={}).json()["id"]
    response = client.post(
        f"/api/v1/conversations/{cid}/messages", params={"wait": "false"}, json={"content": content}
    )
    assert response.status_code == 202
    return cid, response.json()["assistant_message"]["id"]


def read_until(response: httpx.Response, count: int) -> list[dict[str, Any]]:
    """The first ``count`` events, then the connection is dropped."""
    got: list[dict[str, Any]] = []
    for event in sse_events(response):
        got.append(event)
        if len(got) >= count:
            break
    return got


@pytest.mark.parametrize("cut_after", [1, 2, 4, 9])
def test_resume_after_cut_is_byte_exact(server: Server, cut_after: int) -> None:
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        with send_streaming(client, cid, LONG) as response:
            before = read_until(response, cut_after)
        mid = before[0]["message_id"]
        last = before[-1]["seq"]
        with client.stream(
            "GET", f"/api/v1/messages/{mid}/events", headers={"Last-Event-ID": str(last)}
        ) as response:
            after = list(sse_events(response))

        seqs = [e["seq"] for e in before + after]
        assert seqs == sorted(set(seqs)), "no event twice, none out of order"
        assert after[-1]["type"] == "message.end"
        stored = client.get(f"/api/v1/messages/{mid}").json()
        assert stored["status"] == "complete"
        assert text_of(before) + text_of(after) == stored["content"] == LONG


def test_resume_with_after_query_and_from_the_start(server: Server) -> None:
    with server.client() as client:
        _, mid = start_reply(client)
        with client.stream(
            "GET", f"/api/v1/messages/{mid}/events", params={"after": 3}
        ) as response:
            tail = list(sse_events(response))
        with client.stream("GET", f"/api/v1/messages/{mid}/events") as response:
            everything = list(sse_events(response))
        assert everything[0]["type"] == "message.start"
        assert text_of(everything) == LONG
        assert tail[0]["seq"] > 3
        assert LONG.endswith(text_of(tail))


def resume_at_every_seq(client: httpx.Client, events: list[dict[str, Any]]) -> None:
    """A resume at any seq of an ended reply, its terminal one and beyond included, gives
    the rest of its text exactly and then its terminal event."""
    mid = events[0]["message_id"]
    for seq in [e["seq"] for e in events] + [events[-1]["seq"] + 5]:
        with client.stream(
            "GET", f"/api/v1/messages/{mid}/events", headers={"Last-Event-ID": str(seq)}
        ) as response:
            replay = list(sse_events(response))
        seen = [e for e in events if e["seq"] <= seq]
        assert replay[-1] == events[-1], seq
        assert text_of(seen) + text_of(replay) == LONG


def test_a_resume_at_any_seq_ends_with_the_terminal_event(server: Server) -> None:
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        with send_streaming(client, cid, LONG) as response:
            events = list(sse_events(response))
        resume_at_every_seq(client, events)  # from the event log


def test_resume_after_the_log_expired_is_served_from_the_store(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(log_ttl_s=0.5, scripted_delay_ms=5)
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        with send_streaming(client, cid, LONG) as response:
            events = list(sse_events(response))
        mid = events[0]["message_id"]
        time.sleep(1.0)  # past the log's TTL: only the stored row is left
        resume_at_every_seq(client, events)
        with client.stream("GET", f"/api/v1/messages/{mid}/events") as response:
            whole = list(sse_events(response))
        assert whole[0] == events[0]
        assert text_of(whole) == LONG


def test_cancel_stops_the_reply_and_keeps_the_partial(server_factory: ServerFactory) -> None:
    server = server_factory(scripted_delay_ms=100, scripted_chunk_words=1)
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        with send_streaming(client, cid, LONG) as response:
            events: list[dict[str, Any]] = []
            for event in sse_events(response):
                events.append(event)
                if len(events) == 4:
                    cancelled = client.post(f"/api/v1/messages/{event['message_id']}/cancel")
                    assert cancelled.status_code == 200
                    assert cancelled.json()["status"] == "cancelled"
        end = events[-1]
        assert end["type"] == "message.end"
        assert end["finish_reason"] == "cancelled"
        partial = text_of(events)
        assert 0 < len(partial) < len(LONG)
        assert LONG.startswith(partial)
        # Within one token: at most one more delta after the three seen when cancel was sent.
        assert len([e for e in events if e["type"] == "message.delta"]) <= 4
        stored = client.get(f"/api/v1/messages/{end['message_id']}").json()
        assert stored["content"] == partial
        assert stored["finish_reason"] == "cancelled"
        again = client.post(f"/api/v1/messages/{end['message_id']}/cancel")
        assert again.status_code == 200
        assert again.json()["content"] == partial


def test_client_disconnect_does_not_stop_the_reply(server: Server) -> None:
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        with send_streaming(client, cid, LONG) as response:
            first = read_until(response, 2)
        mid = first[0]["message_id"]
        deadline = time.monotonic() + 20
        while client.get(f"/api/v1/messages/{mid}").json()["status"] == "streaming":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        stored = client.get(f"/api/v1/messages/{mid}").json()
        assert stored["status"] == "complete"
        assert stored["content"] == LONG


def test_partial_reply_is_checkpointed_while_streaming(server_factory: ServerFactory) -> None:
    server = server_factory(scripted_delay_ms=100, scripted_chunk_words=1)
    with server.client() as client:
        _, mid = start_reply(client)
        time.sleep(2.5)
        db = sqlite3.connect(server.data_dir / "tokenwire.db")
        try:
            status, content = db.execute(
                "SELECT status, content FROM messages WHERE id = ?", (mid,)
            ).fetchone()
        finally:
            db.close()
        assert status == "streaming"
        assert len(content) > 0
        assert LONG.startswith(content)
        assert content != LONG
        history = client.get(f"/api/v1/messages/{mid}").json()
        assert history["status"] == "streaming"
        assert history["content"].startswith(content)
        client.post(f"/api/v1/messages/{mid}/cancel")


def test_shutdown_saves_in_flight_replies_as_interrupted(server_factory: ServerFactory) -> None:
    server = server_factory(scripted_delay_ms=200, scripted_chunk_words=1, shutdown_grace_s=0.5)
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        with send_streaming(client, cid, LONG) as response:
            events: list[dict[str, Any]] = []
            for event in sse_events(response):
                events.append(event)
                if len(events) == 3:
                    server.proc.terminate()
    # uvicorn re-raises the signal it handled once it has shut down cleanly.
    assert server.proc.wait(30) in (0, -signal.SIGTERM)
    assert "Traceback" not in server.log()
    assert events[-1]["type"] == "message.error"
    assert events[-1]["error"]["code"] == "interrupted"
    assert events[-1]["error"]["retryable"] is True
    mid = events[0]["message_id"]

    restarted = server_factory(data_dir=server.data_dir)
    with restarted.client() as client:  # same local user, its token rotated by the restart
        response = client.get(f"/api/v1/messages/{mid}")
        assert response.status_code == 200, (response.text, restarted.log())
        stored = response.json()
        assert stored["status"] == "interrupted"
        assert stored["content"] == text_of(events)
        assert LONG.startswith(stored["content"])
        with client.stream("GET", f"/api/v1/messages/{mid}/events") as response:
            replay = list(sse_events(response))
        assert text_of(replay) == stored["content"]
        assert replay[-1]["type"] == "message.error"


def test_sse_sends_heartbeat_comments(server_factory: ServerFactory) -> None:
    server = server_factory(sse_heartbeat_s=0.2, scripted_delay_ms=400, scripted_chunk_words=1)
    with server.client() as client:
        _, mid = start_reply(client, "a b c d")
        with client.stream("GET", f"/api/v1/messages/{mid}/events") as response:
            raw = b"".join(response.iter_raw())
    assert b": keep-alive\n\n" in raw


def test_slow_reader_gets_merged_deltas_with_exact_text(server_factory: ServerFactory) -> None:
    text = " ".join(f"w{i}" for i in range(4000))
    # 4000 one-word chunks are 4000 tokens of the scripted model: above the default cap.
    server = server_factory(scripted_delay_ms=0, scripted_chunk_words=1, max_tokens=5000)
    with server.client() as client:
        _, mid = start_reply(client, text)
        time.sleep(1.0)  # the reply runs ahead of this reader
        with client.stream("GET", f"/api/v1/messages/{mid}/events") as response:
            events = list(sse_events(response))
    deltas = [e for e in events if e["type"] == "message.delta"]
    assert text_of(events) == text
    assert len(deltas) < 4000  # merged: fewer, larger deltas
    assert events[-1]["seq"] == 4001  # seq still counts every delta the model produced
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
