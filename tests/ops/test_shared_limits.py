"""With Redis, two instances count against the same limits: a user cannot double their budget
by talking to both."""

from __future__ import annotations

import itertools
import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import ServerFactory
from tests.helpers.server import Server
from tests.ops.scrape import eventually

REPLY = " ".join(f"w{i}" for i in range(300))
SAME_ADDRESS = {"X-Forwarded-For": "10.9.9.9"}
_addresses = itertools.count(1)


def fresh() -> dict[str, str]:
    """An address of its own for one request (uvicorn trusts X-Forwarded-For from 127.0.0.1),
    so that only the per-user limits count."""
    n = next(_addresses)
    return {"X-Forwarded-For": f"10.8.{n // 250}.{n % 250 + 1}"}


def client(server: Server, token: str) -> httpx.Client:
    def from_anywhere(request: httpx.Request) -> None:
        request.headers.update(fresh())

    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {token}"},
        event_hooks={"request": [from_anywhere]},
        timeout=30,
    )


def refused_code(response: httpx.Response) -> str:
    assert response.status_code == 429, response.text
    return str(response.json()["error"]["code"])


def test_two_instances_share_rates_streams_and_sockets(
    server_factory: ServerFactory, redis_server: str, redis_prefix: str, postgres_url: str
) -> None:
    # One database for both, as behind a load balancer (PostgreSQL: one server per SQLite
    # database); the limits in Redis.
    shared = {
        "database_url": postgres_url,
        "token": "tw_shared_local_token",
        "limits_redis_url": redis_server,
        "redis_prefix": redis_prefix,
        "requests_per_minute_per_ip": 5,
        "max_streams_per_user": 1,
        "max_sockets_per_user": 1,
        "scripted_text": REPLY,
    }
    one: Server = server_factory(**shared)
    two: Server = server_factory(**shared)

    # Rates: 3 requests on one instance and 2 on the other spend an address's budget of 5.
    local = str(shared["token"])
    with one.client(local) as a, two.client(local) as b:
        for c in (a, a, a, b, b):
            assert c.get("/api/v1/conversations", headers=SAME_ADDRESS).status_code == 200
        for c in (a, b):
            over = c.get("/api/v1/conversations", headers=SAME_ADDRESS)
            assert refused_code(over) == "rate_limited"
            assert "address" in over.json()["error"]["message"]

    # Streams and sockets: a reply running on one instance fills the slot on the other.
    token = one.create_user("everywhere")
    with client(one, token) as a, client(two, token) as b:
        cid = a.post("/api/v1/conversations", json={}).json()["id"]
        sends = f"/api/v1/conversations/{cid}/messages?wait=false"
        running = a.post(sends, json={"content": "first"})
        assert running.status_code == 202
        assert refused_code(b.post(sends, json={"content": "second"})) == "too_many_streams"
        reply = running.json()["assistant_message"]["id"]
        assert a.post(f"/api/v1/messages/{reply}/cancel").json()["status"] == "cancelled"

        def sent_on_two() -> bool:
            # The slot comes back when instance one's release reaches Redis.
            response = b.post(sends, json={"content": "second"})
            if response.status_code == 429:
                return False
            assert response.status_code == 202
            b.post(f"/api/v1/messages/{response.json()['assistant_message']['id']}/cancel")
            return True

        eventually(sent_on_two)

        url = f"/api/v1/conversations/{cid}/ws?token={token}"
        with connect(one.ws_url + url, additional_headers=fresh()) as ws:
            ws.send(json.dumps({"type": "ping"}))
            assert json.loads(ws.recv(10))["type"] == "pong"
            with (
                pytest.raises(InvalidStatus) as handshake,
                connect(two.ws_url + url, additional_headers=fresh()),
            ):
                pass
            assert handshake.value.response.status_code == 429
            body = json.loads(handshake.value.response.body or b"")
            assert body["error"]["code"] == "too_many_connections"

        def opened_on_two() -> bool:
            try:
                with connect(two.ws_url + url, additional_headers=fresh()):
                    return True
            except InvalidStatus:
                return False

        eventually(opened_on_two)
