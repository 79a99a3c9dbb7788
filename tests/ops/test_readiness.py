"""``/readyz`` reports each part; ``/healthz`` stays trivial."""

from __future__ import annotations

import httpx

from tests.conftest import ServerFactory
from tests.helpers.server import Server
from tests.helpers.services import ThrowawayRedis
from tests.ops.scrape import eventually


def test_ready_when_every_part_answers(ops_server: Server) -> None:
    ready = httpx.get(f"{ops_server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {
            "store": {"status": "ok"},
            "event_log": {"status": "ok"},
            "provider": {"status": "ok", "name": "scripted", "model": "scripted"},
        },
    }
    assert httpx.get(f"{ops_server.url}/healthz").json() == {"status": "ok"}


def test_a_fallback_chain_reports_each_provider(server_factory: ServerFactory) -> None:
    server = server_factory(providers="scripted,scripted")
    provider = httpx.get(f"{server.url}/readyz").json()["checks"]["provider"]
    assert provider["status"] == "ok"
    assert provider["name"] == "fallback"
    assert [p["name"] for p in provider["chain"]] == ["scripted", "scripted"]


def test_lost_limit_counters_fail_readiness_but_not_requests(
    server_factory: ServerFactory,
) -> None:
    redis = ThrowawayRedis()  # this test stops it: a Redis of its own
    try:
        server = server_factory(limits_redis_url=redis.url, max_streams_per_user=1)
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["limits"] == {"status": "ok"}
    finally:
        redis.stop()

    def failing() -> bool:
        return httpx.get(f"{server.url}/readyz").status_code == 503

    eventually(failing)
    report = httpx.get(f"{server.url}/readyz").json()
    assert report["status"] == "failing"
    assert report["checks"]["limits"]["status"] == "failing"
    assert "Error" in report["checks"]["limits"]["error"]
    assert report["checks"]["store"] == {"status": "ok"}
    # Without their counters the limits let requests through rather than refuse everyone.
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        turn = client.post(f"/api/v1/conversations/{cid}/messages", json={"content": "still up"})
    assert turn.status_code == 201
    assert turn.json()["assistant_message"]["content"] == "still up"
    assert "limit counters unreachable" in server.log()
