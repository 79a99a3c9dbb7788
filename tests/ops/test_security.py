"""Browser safety: security headers everywhere, CORS only for listed origins, and WebSockets
only from listed origins, the server's own, or clients that are not browsers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.helpers.server import Server, start_server
from tokenwire.ops.security import content_security_policy, origin_allowed, same_origin

APP = "https://app.example"


@pytest.fixture(scope="module")
def cors_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("cors"), {"TOKENWIRE_CORS_ORIGINS": APP})
    yield server
    server.stop()


def conversation(server: Server) -> str:
    with server.client() as client:
        return str(client.post("/api/v1/conversations", json={}).json()["id"])


def check_headers(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' data: blob:"
    assert directives["frame-ancestors"] == "'none'"
    host = response.request.url.netloc.decode()
    assert directives["connect-src"] == f"'self' ws://{host} wss://{host}"
    assert "unsafe" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


def test_every_answer_carries_the_security_headers(ops_server: Server) -> None:
    with ops_server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        answers = [
            client.get("/"),  # the page, where it is installed
            client.get(f"/api/v1/conversations/{cid}"),
            client.get("/api/v1/conversations/0190a5e0-0000-7000-8000-000000000000"),
            client.post(f"/api/v1/conversations/{cid}/messages", json={"content": "x" * 40_000}),
        ]
        with client.stream(
            "POST",
            f"/api/v1/conversations/{cid}/messages",
            json={"content": "hi"},
            headers={"Accept": "text/event-stream"},
        ) as stream:
            answers.append(stream)
    answers.append(httpx.get(f"{ops_server.url}/api/v1/conversations"))  # 401
    assert [a.status_code for a in answers] == [answers[0].status_code, 200, 404, 413, 200, 401]
    for answer in answers:
        check_headers(answer)


def test_no_cors_by_default(ops_server: Server) -> None:
    preflight = httpx.options(
        f"{ops_server.url}/api/v1/conversations",
        headers={"Origin": APP, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    with ops_server.client() as client:
        plain = client.get("/api/v1/conversations", headers={"Origin": APP})
    assert "access-control-allow-origin" not in plain.headers


def test_cors_answers_listed_origins_only(cors_server: Server) -> None:
    preflight = httpx.options(
        f"{cors_server.url}/api/v1/conversations",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP
    with cors_server.client() as client:
        allowed = client.get("/api/v1/conversations", headers={"Origin": APP})
        other = client.get("/api/v1/conversations", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == APP
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in other.headers


def test_websocket_origins(cors_server: Server) -> None:
    cid = conversation(cors_server)
    url = f"{cors_server.ws_url}/api/v1/conversations/{cid}/ws?token={cors_server.token}"
    own = f"http://127.0.0.1:{cors_server.port}"
    for origin in (None, APP, own):
        headers = {"Origin": origin} if origin else {}
        with connect(url, additional_headers=headers, origin=None) as ws:
            ws.send(json.dumps({"type": "ping"}))
            assert json.loads(ws.recv(10))["type"] == "pong", origin
    for origin in ("https://evil.example", "null", "http://127.0.0.1:1"):
        with (
            pytest.raises(InvalidStatus) as refused,
            connect(url, additional_headers={"Origin": origin}),
        ):
            pass
        assert refused.value.response.status_code == 403, origin
        body = json.loads(refused.value.response.body or b"")
        assert body["error"]["code"] == "origin_not_allowed"


def test_dialect_websockets_check_the_origin_too(cors_server: Server) -> None:
    url = f"{cors_server.ws_url}/ws/chat?token={cors_server.token}"
    with (
        pytest.raises(InvalidStatus) as refused,
        connect(url, additional_headers={"Origin": "https://evil.example"}),
    ):
        pass
    assert refused.value.response.status_code == 403


def test_origin_rules() -> None:
    assert origin_allowed(None, "h:1", [])
    assert origin_allowed("http://h:1", "h:1", [])
    assert origin_allowed("https://H:1", "h:1", [])
    assert not origin_allowed("http://h:2", "h:1", [])
    assert not origin_allowed("null", "h:1", [])
    assert origin_allowed("null", "h:1", ["null"])
    assert origin_allowed("https://a.example", "h:1", ["https://a.example"])
    assert origin_allowed("https://any.example", "h:1", ["*"])
    assert not origin_allowed("https://a.example", None, [])


def test_session_cookie_origin_rules() -> None:
    # The page's own requests: same-origin fetches, navigations, and those without headers.
    assert same_origin("http://h:1", "same-origin", "h:1")
    assert same_origin(None, "same-origin", "h:1")
    assert same_origin(None, "none", "h:1")
    assert same_origin(None, None, "h:1")
    # Another port of the same host is the same site, not the same origin: refused.
    assert not same_origin("http://h:2", "same-site", "h:1")
    assert not same_origin("http://h:2", None, "h:1")
    assert not same_origin(None, "same-site", "h:1")
    assert not same_origin(None, "cross-site", "h:1")
    assert not same_origin("null", None, "h:1")
    assert not same_origin("http://h:1", None, None)
    # An origin named in cors_origins (a proxy in front rewrote Host); never "*".
    assert same_origin("https://chat.example", "same-site", "h:1", ["https://chat.example"])
    assert not same_origin("https://other.example", "cross-site", "h:1", ["*"])


def test_the_policy_falls_back_when_the_host_is_odd() -> None:
    assert "connect-src 'self' ws://h:8000 wss://h:8000;" in content_security_policy("h:8000")
    assert "connect-src 'self' ws: wss:;" in content_security_policy("h;script-src *")
    assert "connect-src 'self' ws: wss:;" in content_security_policy(None)
