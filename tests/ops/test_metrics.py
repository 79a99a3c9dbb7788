"""``/metrics`` before and after real streams, cancels, disconnects, resumes and failures."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import ServerFactory
from tests.helpers.server import Server, free_port, sse_events, text_of
from tests.ops.scrape import METRICS_TOKEN, eventually, scrape, total, value
from tokenwire.api import create_app
from tokenwire.providers.fallback import FallbackProvider
from tokenwire.providers.llama import LlamaProvider, default_model_path
from tokenwire.providers.queue import FairQueue
from tokenwire.providers.scripted import ScriptedProvider
from tokenwire.settings import Settings

SCRIPTED = {"provider": "scripted", "model": "scripted"}
SENDS = "/api/v1/conversations/{cid}/messages"
LONG = " ".join(f"word{i}" for i in range(600))  # 200 chunks of 3 words, 20 ms apart: 4 s


def conversation(client: httpx.Client) -> str:
    return str(client.post("/api/v1/conversations", json={}).json()["id"])


def stream(client: httpx.Client, cid: str, content: str) -> list[dict[str, object]]:
    with client.stream(
        "POST",
        f"/api/v1/conversations/{cid}/messages",
        json={"content": content},
        headers={"Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        return list(sse_events(response))


def test_metrics_need_the_bearer_secret(ops_server: Server) -> None:
    assert httpx.get(f"{ops_server.url}/metrics").status_code == 401
    wrong = httpx.get(f"{ops_server.url}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "unauthorized"
    right = httpx.get(
        f"{ops_server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert right.status_code == 200
    assert right.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "tokenwire_streams_started_total" in right.text
    openmetrics = httpx.get(
        f"{ops_server.url}/metrics",
        headers={
            "Authorization": f"Bearer {METRICS_TOKEN}",
            "Accept": "application/openmetrics-text; version=1.0.0",
        },
    )
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")


def test_a_completed_stream_moves_the_counters_and_histograms(ops_server: Server) -> None:
    text = "one two three four five six seven eight nine ten eleven"  # 4 chunks, 11 words
    with ops_server.client() as client:
        cid = conversation(client)
        before = scrape(ops_server)
        events = stream(client, cid, text)
    after = scrape(ops_server)
    assert text_of(events) == text
    deltas = sum(1 for e in events if e["type"] == "message.delta")
    assert deltas == 4

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("tokenwire_streams_started_total", **SCRIPTED) == 1
    assert moved("tokenwire_streams_completed_total", **SCRIPTED) == 1
    assert value(after, "tokenwire_streams_in_flight", **SCRIPTED) == 0
    assert moved("tokenwire_time_to_first_token_seconds_count", **SCRIPTED) == 1
    assert moved("tokenwire_inter_token_latency_seconds_count", **SCRIPTED) == deltas - 1
    # Three gaps paced 20 ms apart by the scripted model: at least that much in the sum.
    assert moved("tokenwire_inter_token_latency_seconds_sum", **SCRIPTED) >= 0.05
    assert moved("tokenwire_reply_generation_tokens_count", **SCRIPTED) == 1
    assert moved("tokenwire_reply_generation_tokens_sum", **SCRIPTED) == 11
    assert moved("tokenwire_e2e_reply_latency_seconds_count", **SCRIPTED) == 1
    assert moved("tokenwire_e2e_reply_latency_seconds_sum", **SCRIPTED) >= 0.06
    # The reply took about 60 ms: it lands in the 0.1 s bucket, not the 0.05 s one.
    assert moved("tokenwire_e2e_reply_latency_seconds_bucket", le="0.05", **SCRIPTED) == 0
    assert moved("tokenwire_e2e_reply_latency_seconds_bucket", le="+Inf", **SCRIPTED) == 1
    assert (
        moved(
            "tokenwire_http_requests_total",
            method="POST",
            route="/api/v1/conversations/{cid}/messages",
            status="200",
        )
        == 1
    )


def test_http_requests_are_counted_by_route_template_and_status(ops_server: Server) -> None:
    unknown = "0190a5e0-0000-7000-8000-000000000000"
    before = scrape(ops_server)
    with ops_server.client() as client:
        assert client.get(f"/api/v1/messages/{unknown}").status_code == 404
        assert client.get(f"/api/v1/conversations/{unknown}").status_code == 404
    assert httpx.get(f"{ops_server.url}/api/v1/conversations").status_code == 401
    after = scrape(ops_server)
    for route, status in [
        ("/api/v1/messages/{mid}", "404"),
        ("/api/v1/conversations/{cid}", "404"),
        ("/api/v1/conversations", "401"),
    ]:
        labels = {"method": "GET", "route": route, "status": status}
        assert (
            value(after, "tokenwire_http_requests_total", **labels)
            - value(before, "tokenwire_http_requests_total", **labels)
            == 1
        ), route
    # Ids never become labels: one series per route template.
    assert not any(unknown in str(labels) for _, labels in after)


def test_a_cancel_counts_as_cancelled_not_completed(ops_server: Server) -> None:
    with ops_server.client() as client:
        cid = conversation(client)
        before = scrape(ops_server)
        accepted = client.post(SENDS.format(cid=cid) + "?wait=false", json={"content": LONG})
        assert accepted.status_code == 202
        reply = accepted.json()["assistant_message"]["id"]
        eventually(
            lambda: value(scrape(ops_server), "tokenwire_streams_in_flight", **SCRIPTED) >= 1
        )
        stopped = client.post(f"/api/v1/messages/{reply}/cancel").json()
    assert stopped["status"] == "cancelled"
    after = scrape(ops_server)
    assert (
        value(after, "tokenwire_streams_cancelled_total", **SCRIPTED)
        - value(before, "tokenwire_streams_cancelled_total", **SCRIPTED)
        == 1
    )
    assert value(after, "tokenwire_streams_completed_total", **SCRIPTED) == value(
        before, "tokenwire_streams_completed_total", **SCRIPTED
    )
    assert value(after, "tokenwire_streams_in_flight", **SCRIPTED) == 0


def test_an_sse_client_leaving_mid_reply_is_a_disconnect(ops_server: Server) -> None:
    with ops_server.client() as client:
        cid = conversation(client)
        before = scrape(ops_server)
        with client.stream(
            "POST",
            SENDS.format(cid=cid),
            json={"content": LONG},
            headers={"Accept": "text/event-stream"},
        ) as response:
            for event in sse_events(response):
                if event["type"] == "message.delta":
                    break  # and the connection closes with the block
        reply = str(event["message_id"])

        def counted() -> bool:
            now = scrape(ops_server)
            return value(now, "tokenwire_client_disconnects_total", transport="sse") > value(
                before, "tokenwire_client_disconnects_total", transport="sse"
            )

        eventually(counted)
        # The reply is not the connection's: it goes on, and is cancelled here to save time.
        assert client.get(f"/api/v1/messages/{reply}").json()["status"] == "streaming"
        client.post(f"/api/v1/messages/{reply}/cancel")


def test_an_sse_stream_read_to_its_end_is_no_disconnect(ops_server: Server) -> None:
    before = scrape(ops_server)
    with ops_server.client() as client:
        stream(client, conversation(client), "read me to the very end")
    after = scrape(ops_server)
    assert value(after, "tokenwire_client_disconnects_total", transport="sse") == value(
        before, "tokenwire_client_disconnects_total", transport="sse"
    )


def test_a_websocket_closed_mid_reply_is_a_disconnect(ops_server: Server) -> None:
    with ops_server.client() as client:
        cid = conversation(client)
    before = scrape(ops_server)
    url = f"{ops_server.ws_url}/api/v1/conversations/{cid}/ws?token={ops_server.token}"
    with connect(url) as ws:
        ws.send(json.dumps({"type": "message.send", "content": LONG}))
        while (frame := json.loads(ws.recv(10)))["type"] != "message.delta":
            pass
        assert value(scrape(ops_server), "tokenwire_websocket_connections") >= 1
    reply = frame["message_id"]

    def counted() -> bool:
        now = scrape(ops_server)
        return value(now, "tokenwire_client_disconnects_total", transport="websocket") > value(
            before, "tokenwire_client_disconnects_total", transport="websocket"
        )

    eventually(counted)
    with ops_server.client() as client:
        client.post(f"/api/v1/messages/{reply}/cancel")
    labels = {"method": "WEBSOCKET", "route": "/api/v1/conversations/{cid}/ws", "status": "101"}
    assert value(scrape(ops_server), "tokenwire_http_requests_total", **labels) >= 1


def test_resumes_count_follows_from_a_seq_and_nothing_else(ops_server: Server) -> None:
    with ops_server.client() as client:
        cid = conversation(client)
        before = scrape(ops_server)
        # A send answered with JSON waits for the end: that is not a resume.
        turn = client.post(
            SENDS.format(cid=cid), json={"content": "alpha beta gamma delta epsilon zeta eta"}
        ).json()
        reply = turn["assistant_message"]["id"]
        assert value(scrape(ops_server), "tokenwire_stream_resumes_total") == value(
            before, "tokenwire_stream_resumes_total"
        )
        with client.stream(
            "GET", f"/api/v1/messages/{reply}/events", headers={"Last-Event-ID": "1"}
        ) as response:
            resumed = list(sse_events(response))
        with client.stream("GET", f"/api/v1/messages/{reply}/events") as response:
            list(sse_events(response))  # from the start: a follow, not a resume
    assert text_of(resumed) == " delta epsilon zeta eta"
    after = scrape(ops_server)
    assert (
        value(after, "tokenwire_stream_resumes_total")
        - value(before, "tokenwire_stream_resumes_total")
        == 1
    )


@pytest.fixture(scope="module")
def dead_upstream() -> str:
    """An OpenAI-compatible base URL where nothing listens: every request is refused."""
    return f"http://127.0.0.1:{free_port()}/v1"


def test_a_failed_reply_counts_by_error_code(
    server_factory: ServerFactory, dead_upstream: str
) -> None:
    server = server_factory(
        provider="openai", openai_base_url=dead_upstream, metrics_token=METRICS_TOKEN
    )
    with server.client() as client:
        turn = client.post(SENDS.format(cid=conversation(client)), json={"content": "hi"})
    error = turn.json()["assistant_message"]["error"]
    assert error["code"] == "upstream_unreachable"
    after = scrape(server)
    assert total(after, "tokenwire_streams_failed_total", error_code="upstream_unreachable") == 1
    assert total(after, "tokenwire_streams_completed_total") == 0
    assert total(after, "tokenwire_streams_in_flight") == 0
    line = next(
        json.loads(raw)
        for raw in server.log().splitlines()
        if raw.startswith("{") and '"logger":"tokenwire.reply"' in raw
    )
    assert line["outcome"] == "error"
    assert line["error_code"] == "upstream_unreachable"
    assert line["level"] == "warning"


def test_a_fallback_is_counted_and_the_reply_completes(
    server_factory: ServerFactory, dead_upstream: str
) -> None:
    server = server_factory(
        providers="openai,scripted", openai_base_url=dead_upstream, metrics_token=METRICS_TOKEN
    )
    with server.client() as client:
        turn = client.post(SENDS.format(cid=conversation(client)), json={"content": "hi there"})
    assert turn.json()["assistant_message"]["content"] == "hi there"
    after = scrape(server)
    fallbacks = {"from_provider": "openai", "to_provider": "scripted"}
    assert value(after, "tokenwire_fallbacks_total", **fallbacks) == 1
    assert total(after, "tokenwire_streams_completed_total", provider="fallback") == 1


@pytest.fixture
def llama_with_a_queue() -> Iterator[LlamaProvider]:
    # Built, never loaded: the queue is all this test reads.
    provider = LlamaProvider(model_path=default_model_path(), queue=FairQueue(max_waiting=4))
    yield provider
    provider._executor.shutdown(wait=False)


def test_queue_gauges_read_the_provider_queue(llama_with_a_queue: LlamaProvider) -> None:
    app = create_app(Settings())
    metrics = app.state.ops.metrics
    chain = FallbackProvider([llama_with_a_queue, ScriptedProvider()])
    metrics.watch_provider(chain)
    queue = llama_with_a_queue.queue
    tickets = [queue.join() for _ in range(3)]  # one decoding, two waiting
    exposition = metrics.render()[0].decode()
    assert 'tokenwire_queue_running{provider="llama"} 1.0' in exposition
    assert 'tokenwire_queue_waiting{provider="llama"} 2.0' in exposition
    assert 'provider="scripted"' not in exposition  # no queue, no series
    for ticket in tickets:
        queue.leave(ticket)
    assert 'tokenwire_queue_waiting{provider="llama"} 0.0' in metrics.render()[0].decode()


def test_two_apps_in_one_process_keep_their_own_series() -> None:
    first, second = create_app(Settings()), create_app(Settings())
    assert first.state.ops.metrics.registry is not second.state.ops.metrics.registry
    first.state.ops.metrics.resumes.inc()
    assert b"tokenwire_stream_resumes_total 1.0" in first.state.ops.metrics.render()[0]
    assert b"tokenwire_stream_resumes_total 0.0" in second.state.ops.metrics.render()[0]
