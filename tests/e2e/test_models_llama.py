"""The embedded model through a real ``tokenwire serve``: usage, queueing, responsiveness, 503."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.helpers.server import Server, sse_events, text_of

ServerFactory = Callable[..., Server]
STORY = "Write a long story about a dragon who learns to bake bread."


@pytest.fixture
def llama_server(server_factory: ServerFactory) -> Server:
    # One model, no one may wait: the second concurrent reply is refused.
    return server_factory(provider="llama", max_tokens=200, queue_max=1)


def conversation(client: httpx.Client, **body: object) -> str:
    response = client.post("/api/v1/conversations", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def when(kind: str, flag: threading.Event) -> Callable[[dict[str, Any]], None]:
    """An event callback that raises ``flag`` at the first event of type ``kind``."""

    def check(event: dict[str, Any]) -> None:
        if event["type"] == kind:
            flag.set()

    return check


def send(
    server: Server, text: str, on_event: Callable[[dict[str, Any]], None] | None = None
) -> list[dict[str, Any]]:
    with server.client(timeout=120) as client:
        cid = conversation(client)
        with client.stream(
            "POST",
            f"/api/v1/conversations/{cid}/messages",
            json={"content": text},
            headers={"Accept": "text/event-stream"},
        ) as response:
            assert response.status_code == 200, response.read()
            events = []
            for event in sse_events(response):
                events.append(event)
                if on_event is not None:
                    on_event(event)
            return events


def test_a_reply_from_the_embedded_model_has_real_figures(server_factory: ServerFactory) -> None:
    server = server_factory(provider="llama", max_tokens=8)
    events = send(server, STORY)
    start, *deltas, end = events
    assert start["type"] == "message.start"
    assert start["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert {e["type"] for e in deltas} == {"message.delta"}
    assert text_of(events).strip()
    assert end["type"] == "message.end"
    assert end["finish_reason"] == "length"
    assert end["usage"]["completion_tokens"] == 8
    assert end["usage"]["prompt_tokens"] > 20  # the chat template's default system prompt
    timings = end["timings"]
    assert 0 < timings["ttft_ms"] <= timings["total_ms"]
    assert timings["tokens_per_second"] > 0


def test_waiting_replies_get_queued_events_and_a_full_line_gets_503(llama_server: Server) -> None:
    first_delta = threading.Event()
    results: dict[str, list[dict[str, Any]]] = {}

    def first() -> None:
        results["first"] = send(llama_server, STORY, when("message.delta", first_delta))

    def second() -> None:
        results["second"] = send(llama_server, "Say hello.", when("message.queued", in_line))

    in_line = threading.Event()
    runner = threading.Thread(target=first)
    runner.start()
    assert first_delta.wait(60)
    waiter = threading.Thread(target=second)
    waiter.start()
    assert in_line.wait(60)
    with llama_server.client() as client:
        cid = conversation(client)
        # The model is busy and the one place in line is taken.
        refused = client.post(f"/api/v1/conversations/{cid}/messages", json={"content": "Hi"})
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["retryable"] is True
        # Nothing was stored for the refused message.
        assert client.get(f"/api/v1/conversations/{cid}/messages").json()["items"] == []
    runner.join(120)
    waiter.join(120)
    positions = [e["position"] for e in results["second"] if e["type"] == "message.queued"]
    assert positions == [1]
    kinds = [e["type"] for e in results["second"]]
    assert kinds.index("message.queued") < kinds.index("message.delta")
    assert kinds[-1] == "message.end"
    assert results["first"][-1]["type"] == "message.end"


def test_healthz_answers_quickly_while_the_model_streams(llama_server: Server) -> None:
    streaming = threading.Event()
    finished = threading.Event()

    def reply() -> None:
        send(llama_server, STORY, when("message.delta", streaming))
        finished.set()

    runner = threading.Thread(target=reply)
    runner.start()
    assert streaming.wait(60)
    latencies: list[float] = []
    with httpx.Client(base_url=llama_server.url) as client:
        client.get("/healthz")  # connect once; then measure requests on the open connection
        while not finished.is_set() and len(latencies) < 100:
            start = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - start)
            time.sleep(0.01)
    runner.join(120)
    # A decode that held the event loop would delay every probe by the rest of the reply:
    # one or two probes would be answered before its end, not ten.
    assert len(latencies) >= 10
    # And the typical probe is quick. Only the median: on a shared two-core machine a few
    # probes wait on the OS scheduler, whatever the server does (one waited 0.43 s in a
    # full run, beside four of 0.06-0.16 s).
    assert statistics.median(latencies) < 0.05, sorted(latencies)
