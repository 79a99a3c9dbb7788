"""Sending over SSE, JSON and 202, against a real server over real sockets."""

from __future__ import annotations

import threading

import httpx

from tests.helpers.server import Server, send_streaming, sse_events, text_of

SENTENCE = "The quick brown fox jumps over the lazy dog, then naps in the sun for a while."


def new_conversation(client: httpx.Client, **body: object) -> str:
    response = client.post("/api/v1/conversations", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_sse_send_streams_the_reply_and_stores_it(server: Server) -> None:
    with server.client() as client:
        cid = new_conversation(client, title="greeting")
        with send_streaming(client, cid, SENTENCE) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            assert response.headers["x-accel-buffering"] == "no"
            events = list(sse_events(response))

        start, *middle, end = events
        assert start["type"] == "message.start"
        assert start["seq"] == 0
        assert start["conversation_id"] == cid
        assert start["user_message"]["content"] == SENTENCE
        assert [e["seq"] for e in events] == list(range(len(events)))
        assert all(e["type"] == "message.delta" for e in middle)
        assert len(middle) > 1  # it streamed in pieces
        assert end["type"] == "message.end"
        assert end["finish_reason"] == "stop"
        assert end["usage"]["completion_tokens"] > 0
        assert end["timings"]["total_ms"] >= end["timings"]["ttft_ms"] > 0
        assert text_of(events) == SENTENCE  # the scripted model echoes

        history = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
        assert [m["role"] for m in history] == ["user", "assistant"]
        assert history[1]["id"] == start["message_id"]
        assert history[1]["content"] == SENTENCE
        assert history[1]["status"] == "complete"
        assert history[1]["seq"] == end["seq"]
        assert history[1]["reply_to"] == history[0]["id"]


def test_sse_event_framing_has_id_event_and_data(server: Server) -> None:
    with server.client() as client:
        cid = new_conversation(client)
        with send_streaming(client, cid, "one two") as response:
            raw = b"".join(response.iter_raw())
    blocks = [b for b in raw.split(b"\n\n") if b and not b.startswith(b":")]
    assert blocks[0].startswith(b'id: 0\nevent: message.start\ndata: {"type":"message.start"')
    assert blocks[1].startswith(
        b'id: 1\nevent: message.delta\ndata: {"type":"message.delta","message_id":'
    )
    assert blocks[1].endswith(b',"seq":1,"text":"one two"}')
    assert blocks[2].startswith(b"id: 2\nevent: message.end\n")


def test_json_send_returns_the_complete_reply(server: Server) -> None:
    with server.client() as client:
        cid = new_conversation(client)
        response = client.post(f"/api/v1/conversations/{cid}/messages", json={"content": SENTENCE})
        assert response.status_code == 201
        body = response.json()
        assert body["user_message"]["content"] == SENTENCE
        assert body["assistant_message"]["content"] == SENTENCE
        assert body["assistant_message"]["status"] == "complete"
        assert body["assistant_message"]["finish_reason"] == "stop"


def test_wait_false_answers_202_with_an_events_url(server: Server) -> None:
    with server.client() as client:
        cid = new_conversation(client)
        response = client.post(
            f"/api/v1/conversations/{cid}/messages",
            params={"wait": "false"},
            json={"content": SENTENCE},
        )
        assert response.status_code == 202
        body = response.json()
        assert body["assistant_message"]["status"] == "streaming"
        with client.stream("GET", body["events_url"]) as events_response:
            events = list(sse_events(events_response))
        assert events[0]["type"] == "message.start"
        assert events[-1]["type"] == "message.end"
        assert text_of(events) == SENTENCE


def test_same_client_message_id_makes_one_turn(server: Server) -> None:
    with server.client() as client:
        cid = new_conversation(client)
        payload = {"content": SENTENCE, "client_message_id": "retry-1"}
        first = client.post(f"/api/v1/conversations/{cid}/messages", json=payload)
        second = client.post(f"/api/v1/conversations/{cid}/messages", json=payload)
        assert first.status_code == 201
        assert second.status_code == 200
        assert second.json()["user_message"]["id"] == first.json()["user_message"]["id"]
        assert second.json()["assistant_message"]["id"] == first.json()["assistant_message"]["id"]
        assert second.json()["assistant_message"]["content"] == SENTENCE

        # A retry over SSE replays the first reply rather than starting another.
        with client.stream(
            "POST",
            f"/api/v1/conversations/{cid}/messages",
            json=payload,
            headers={"Accept": "text/event-stream"},
        ) as response:
            events = list(sse_events(response))
        assert events[0]["message_id"] == first.json()["assistant_message"]["id"]
        assert text_of(events) == SENTENCE

        history = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
        assert len(history) == 2


def test_concurrent_retries_race_to_one_turn(server: Server) -> None:
    with server.client() as client:
        cid = new_conversation(client)
    payload = {"content": "race me", "client_message_id": "race-1"}
    replies: list[str] = []

    def send() -> None:
        with server.client() as c:
            r = c.post(f"/api/v1/conversations/{cid}/messages", json=payload)
            assert r.status_code in (200, 201), r.text
            replies.append(r.json()["assistant_message"]["id"])

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(replies) == 4
    assert len(set(replies)) == 1
    with server.client() as client:
        assert len(client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]) == 2


def test_conversations_crud_and_pagination(server: Server) -> None:
    token = server.create_user("pager")
    with server.client(token) as client:
        ids = [new_conversation(client, title=f"c{i}") for i in range(5)]
        page = client.get("/api/v1/conversations", params={"limit": 2}).json()
        assert [c["id"] for c in page["items"]] == ids[::-1][:2]
        seen = [c["id"] for c in page["items"]]
        while page["next_before"]:
            page = client.get(
                "/api/v1/conversations", params={"limit": 2, "before": page["next_before"]}
            ).json()
            seen += [c["id"] for c in page["items"]]
        assert seen == ids[::-1]

        renamed = client.patch(f"/api/v1/conversations/{ids[0]}", json={"title": "renamed"})
        assert renamed.status_code == 200
        assert renamed.json()["title"] == "renamed"
        assert client.get(f"/api/v1/conversations/{ids[0]}").json()["title"] == "renamed"

        assert client.delete(f"/api/v1/conversations/{ids[0]}").status_code == 204
        assert client.get(f"/api/v1/conversations/{ids[0]}").status_code == 404


def test_message_history_pages_back_oldest_first(server: Server) -> None:
    with server.client() as client:
        cid = new_conversation(client)
        for i in range(3):
            client.post(f"/api/v1/conversations/{cid}/messages", json={"content": f"turn {i}"})
        everything = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
        assert [m["content"] for m in everything] == [
            "turn 0",
            "turn 0",
            "turn 1",
            "turn 1",
            "turn 2",
            "turn 2",
        ]
        newest = client.get(f"/api/v1/conversations/{cid}/messages", params={"limit": 4}).json()
        assert [m["id"] for m in newest["items"]] == [m["id"] for m in everything[2:]]
        older = client.get(
            f"/api/v1/conversations/{cid}/messages",
            params={"limit": 4, "before": newest["next_before"]},
        ).json()
        assert [m["id"] for m in older["items"]] == [m["id"] for m in everything[:2]]
        assert older["next_before"] is None
