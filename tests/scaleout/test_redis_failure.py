"""Redis going away: requests fail with a clear 503, nothing committed is lost, and the
deployment works again once Redis is back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.helpers.server import sse_events, start_server, text_of
from tests.helpers.services import ThrowawayRedis
from tests.scaleout.test_instances import LONG, follow, new_conversation, start_reply


def test_redis_down_is_a_503_and_loses_nothing(tmp_path: Path, postgres_url: str) -> None:
    redis = ThrowawayRedis()  # a private one: this test stops it
    server = start_server(
        tmp_path / "instance",
        {
            "TOKENWIRE_DATABASE_URL": postgres_url,
            "TOKENWIRE_REDIS_URL": redis.url,
            "TOKENWIRE_SCRIPTED_DELAY_MS": "5",
        },
    )
    try:
        with server.client() as client:
            cid = new_conversation(client)
            done = client.post(f"/api/v1/conversations/{cid}/messages", json={"content": "kept"})
            assert done.status_code == 201
            kept = done.json()["assistant_message"]
            redis.stop()

            refused = client.post(
                f"/api/v1/conversations/{cid}/messages", json={"content": "while down"}
            )
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "unavailable"
            assert refused.headers["Retry-After"]
            history = client.get(f"/api/v1/conversations/{cid}/messages").json()["items"]
            assert [m["content"] for m in history if m["role"] == "user"] == ["kept", "while down"]
            assert history[1]["content"] == "kept"
            assert history[1]["status"] == "complete"
            assert history[-1]["status"] == "error", "no reply is left streaming"
            # A finished reply is still served, from the database.
            events = follow(server, kept["id"])
            assert text_of(events) == "kept"
            assert events[-1]["type"] == "message.end"
            # A socket cannot watch the conversation: it is told so, and closed with 1013.
            url = f"{server.ws_url}/api/v1/conversations/{cid}/ws?token={server.token}"
            with connect(url) as ws:
                error = json.loads(ws.recv(timeout=10))
                assert error["type"] == "error"
                assert error["error"]["code"] == "unavailable"
                with pytest.raises(ConnectionClosed) as closed:
                    ws.recv(timeout=10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1013

            redis = ThrowawayRedis(port=redis.port)
            response = client.post(
                f"/api/v1/conversations/{cid}/messages", json={"content": "back again"}
            )
            assert response.status_code == 201, response.text
            assert response.json()["assistant_message"]["content"] == "back again"
    finally:
        server.stop()
        redis.stop()


def test_redis_dying_mid_reply_ends_it_with_the_partial_kept(
    tmp_path: Path, postgres_url: str
) -> None:
    redis = ThrowawayRedis()
    server = start_server(
        tmp_path / "instance",
        {
            "TOKENWIRE_DATABASE_URL": postgres_url,
            "TOKENWIRE_REDIS_URL": redis.url,
            "TOKENWIRE_SCRIPTED_DELAY_MS": "50",
            "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "1",
        },
    )
    try:
        with server.client() as client:
            mid = start_reply(client, new_conversation(client), LONG)
            events = []
            with client.stream("GET", f"/api/v1/messages/{mid}/events") as response:
                for event in sse_events(response):
                    events.append(event)
                    if len(events) == 4:
                        redis.stop()
            stored = client.get(f"/api/v1/messages/{mid}").json()
        # The follower went on from the database and got the end written there.
        assert events[-1]["type"] == "message.error"
        assert events[-1]["error"]["code"] == "unavailable"
        assert stored["status"] == "error"
        assert stored["content"] == text_of(events)
        assert LONG.startswith(stored["content"])
        assert len(stored["content"]) < len(LONG)
    finally:
        server.stop()
        redis.stop()
