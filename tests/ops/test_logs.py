"""Structured logs: a JSON line per request and per reply, request ids end to end, and never a
word of a message or a token."""

from __future__ import annotations

import io
import json
import logging
import os
from typing import Any

import httpx
from websockets.sync.client import connect

from tests.helpers.server import Server, sse_events, text_of
from tests.ops.scrape import eventually
from tokenwire.ops.logs import JSONFormatter, Redact, TextFormatter, configure_logging
from tokenwire.settings import Settings


def lines(server: Server) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in server.log().splitlines() if raw.startswith("{")]


def logged(server: Server, logger: str, **match: object) -> list[dict[str, Any]]:
    return [
        line
        for line in lines(server)
        if line["logger"] == logger and all(line.get(k) == v for k, v in match.items())
    ]


def test_a_request_and_its_reply_are_logged_with_one_request_id(ops_server: Server) -> None:
    secret_words = "zebra quartz 7f3a marmalade"
    user_token = ops_server.create_user("logged")
    with ops_server.client(user_token) as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        with client.stream(
            "POST",
            f"/api/v1/conversations/{cid}/messages",
            json={"content": secret_words},
            headers={"Accept": "text/event-stream", "X-Request-ID": "req-logs-1"},
        ) as response:
            assert response.headers["x-request-id"] == "req-logs-1"
            events = list(sse_events(response))
    assert text_of(events) == secret_words
    reply_id = events[0]["message_id"]

    eventually(lambda: bool(logged(ops_server, "tokenwire.http", request_id="req-logs-1")))
    [request] = logged(ops_server, "tokenwire.http", request_id="req-logs-1")
    assert request["level"] == "info"
    assert request["method"] == "POST"
    assert request["route"] == "/api/v1/conversations/{cid}/messages"
    assert request["status"] == 200
    assert request["transport"] == "sse"
    assert request["client_gone"] is False
    assert request["duration_ms"] > 0
    assert request["user_id"]
    assert request["client_ip"] == "127.0.0.1"

    [reply] = logged(ops_server, "tokenwire.reply", message_id=reply_id)
    assert reply["request_id"] == "req-logs-1"
    assert reply["user_id"] == request["user_id"]
    assert reply["conversation_id"] == cid
    assert reply["provider"] == "scripted"
    assert reply["model"] == "scripted"
    assert reply["outcome"] == "complete"
    assert reply["error_code"] is None
    assert 0 < reply["ttft_ms"] <= reply["duration_ms"]
    assert reply["completion_tokens"] == 4

    # No content, and no token of this user, anywhere in the log.
    text = ops_server.log()
    assert "zebra" not in text
    assert "marmalade" not in text
    assert user_token not in text


def test_websocket_tokens_in_the_query_are_never_logged(ops_server: Server) -> None:
    user_token = ops_server.create_user("socket-logged")
    with ops_server.client(user_token) as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
    url = f"{ops_server.ws_url}/api/v1/conversations/{cid}/ws?token={user_token}"
    with connect(url, additional_headers={"X-Request-ID": "req-ws-1"}) as ws:
        assert ws.response is not None
        assert ws.response.headers["x-request-id"] == "req-ws-1"
        ws.send(json.dumps({"type": "message.send", "content": "ssh quiet please"}))
        while json.loads(ws.recv(10))["type"] != "message.end":
            pass
    eventually(lambda: bool(logged(ops_server, "tokenwire.http", request_id="req-ws-1")))
    [request] = logged(ops_server, "tokenwire.http", request_id="req-ws-1")
    assert request["method"] == "WEBSOCKET"
    assert request["status"] == 101
    assert request["path"] == f"/api/v1/conversations/{cid}/ws"
    [reply] = logged(ops_server, "tokenwire.reply", request_id="req-ws-1")
    assert reply["outcome"] == "complete"
    assert user_token not in ops_server.log()
    assert "quiet please" not in ops_server.log()


def test_a_bad_request_id_is_replaced(ops_server: Server) -> None:
    for bad in ("has spaces", "x" * 129, 'quote"d', "semi;colon"):
        response = httpx.get(f"{ops_server.url}/healthz", headers={"X-Request-ID": bad})
        given = response.headers["x-request-id"]
        assert given != bad
        assert len(given) == 36  # a UUID of our own
    fine = httpx.get(f"{ops_server.url}/healthz", headers={"X-Request-ID": "a.b:c/d+e=f@g-h_1"})
    assert fine.headers["x-request-id"] == "a.b:c/d+e=f@g-h_1"
    assert len({httpx.get(f"{ops_server.url}/healthz").headers["x-request-id"] for _ in "ab"}) == 2


def test_every_line_of_the_server_log_is_json(ops_server: Server) -> None:
    # The login URL is printed for the person who started the server (to stdout, which the
    # test server writes to the same file); everything else is JSON.
    for raw in ops_server.log().splitlines():
        if raw.startswith(("tokenwire: ", "http://")):
            continue
        entry = json.loads(raw)
        assert {"ts", "level", "logger", "msg"} <= entry.keys()


def record(**fields: object) -> logging.LogRecord:
    entry = logging.LogRecord("tokenwire.reply", logging.INFO, __file__, 1, "reply", (), None)
    entry.fields = fields
    return entry


def test_formats() -> None:
    entry = json.loads(JSONFormatter().format(record(outcome="complete", ttft_ms=12.5)))
    assert entry["msg"] == "reply"
    assert entry["outcome"] == "complete"
    assert entry["ttft_ms"] == 12.5
    assert entry["ts"].endswith("+00:00")
    text = TextFormatter().format(record(outcome="complete", error_code=None))
    assert text.endswith("tokenwire.reply: reply outcome=complete")


def test_tokens_in_urls_are_redacted_whoever_logs_them() -> None:
    entry = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5", "/ws?token=tw_secret&x=1"),
        None,
    )
    assert Redact().filter(entry)
    assert entry.getMessage() == '127.0.0.1:5 - "WebSocket /ws?token=[redacted]&x=1" [accepted]'


def test_json_unless_stderr_is_a_terminal() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    primary, secondary = os.openpty()
    try:
        with os.fdopen(primary, "w") as tty, io.StringIO() as pipe:
            configure_logging(Settings(log_format="auto"), tty)
            assert isinstance(root.handlers[0].formatter, TextFormatter)
            configure_logging(Settings(log_format="auto"), pipe)
            assert isinstance(root.handlers[0].formatter, JSONFormatter)
            configure_logging(Settings(log_format="text", log_level="warning"), pipe)
            assert isinstance(root.handlers[0].formatter, TextFormatter)
            assert root.level == logging.WARNING
    finally:
        os.close(secondary)
        root.handlers[:], root.level = saved[0], saved[1]
        logging.captureWarnings(False)
