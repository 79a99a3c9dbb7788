"""The page's session cookie: signing in with the token sets it, HTTP and WebSocket from the
page's origin accept it, signing out revokes it everywhere, bearer tokens go on working."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import ServerFactory
from tests.helpers.server import Server

COOKIE = "tokenwire_session"


def sign_in(server: Server, token: str | None = None) -> httpx.Response:
    response = httpx.post(f"{server.url}/api/v1/session", headers=server.headers(token))
    assert response.status_code == 201, response.text
    return response


def cookie_client(server: Server, secret: str, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, cookies={COOKIE: secret}, headers=headers)


def test_signing_in_sets_an_httponly_strict_cookie_that_authenticates(server: Server) -> None:
    response = sign_in(server)
    header = response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE}=")
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"httponly", "path", "max-age"} <= attributes
    assert "samesite=strict" in header.lower()
    assert "secure" not in attributes, "plain HTTP on a LAN: a Secure cookie would never return"
    assert response.json() == {"user": "local", "images": True}
    secret = response.cookies[COOKIE]
    assert secret.startswith("tws_")
    assert secret != server.token

    with cookie_client(server, secret) as client:
        assert client.get("/api/v1/session").json() == {"user": "local", "images": True}
        created = client.post("/api/v1/conversations", json={"title": "by cookie"})
        assert created.status_code == 201
        assert client.get(f"/api/v1/conversations/{created.json()['id']}").status_code == 200


def test_the_cookie_is_refused_from_another_origin(server: Server) -> None:
    secret = sign_in(server).cookies[COOKIE]
    same = cookie_client(server, secret, Origin=server.url, **{"Sec-Fetch-Site": "same-origin"})
    with same as client:
        assert client.post("/api/v1/conversations", json={}).status_code == 201
    # Another port of the same host is the same site to a browser, but not the same origin.
    other = cookie_client(server, secret, Origin="http://127.0.0.1:1")
    with other as client:
        refused = client.post("/api/v1/conversations", json={})
        assert refused.status_code == 401
        assert "session cookie" in refused.json()["error"]["message"]
    with cookie_client(server, secret, **{"Sec-Fetch-Site": "same-site"}) as client:
        assert client.get("/api/v1/conversations").status_code == 401


def test_the_websocket_accepts_the_cookie_from_the_page(server: Server) -> None:
    secret = sign_in(server).cookies[COOKIE]
    with cookie_client(server, secret) as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
    url = f"{server.ws_url}/api/v1/conversations/{cid}/ws"
    headers = {"Cookie": f"{COOKIE}={secret}"}
    with connect(url, additional_headers=headers, origin=server.url) as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "pong"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin="http://127.0.0.1:1", additional_headers=headers)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as unknown:
        connect(url, additional_headers={"Cookie": f"{COOKIE}=tws_nope"})
    assert unknown.value.response.status_code == 401


def test_sign_out_revokes_the_session_and_bearer_tokens_keep_working(server: Server) -> None:
    first = sign_in(server).cookies[COOKIE]
    second = sign_in(server).cookies[COOKIE]
    with cookie_client(server, first) as client:
        out = client.delete("/api/v1/session")
        assert out.status_code == 204
        assert f"{COOKIE}=" in out.headers["set-cookie"]
        assert "max-age=0" in out.headers["set-cookie"].lower()
        gone = client.get("/api/v1/conversations")
        assert gone.status_code == 401
        assert gone.json()["error"]["code"] == "unauthorized"
        assert client.delete("/api/v1/session").status_code == 204, "twice is no error"
    # Only that browser's session ends: another one, and the token itself, still work.
    with cookie_client(server, second) as client:
        assert client.get("/api/v1/conversations").status_code == 200
    with server.client() as client:
        assert client.get("/api/v1/conversations").status_code == 200
    # A bearer token wins over a cookie, whatever the cookie says.
    with httpx.Client(
        base_url=server.url, cookies={COOKIE: first}, headers=server.headers()
    ) as client:
        assert client.get("/api/v1/conversations").status_code == 200


def test_signing_in_needs_the_token_itself(server: Server) -> None:
    assert httpx.post(f"{server.url}/api/v1/session").status_code == 401
    wrong = httpx.post(f"{server.url}/api/v1/session", headers=server.headers("tw_wrong"))
    assert wrong.status_code == 401
    secret = sign_in(server).cookies[COOKIE]
    with cookie_client(server, secret) as client:
        # A session cannot mint more sessions: the token is what signs a browser in.
        assert client.post("/api/v1/session").status_code == 401


def test_an_origin_named_in_cors_origins_may_use_the_cookie(server_factory: ServerFactory) -> None:
    # A proxy in front (https://chat.example) that passes the request on with its own Host.
    server = server_factory(cors_origins="https://chat.example")
    secret = sign_in(server).cookies[COOKIE]
    named = cookie_client(server, secret, Origin="https://chat.example")
    with named as client:
        assert client.get("/api/v1/conversations").status_code == 200
    other = cookie_client(server, secret, Origin="https://other.example")
    with other as client:
        assert client.get("/api/v1/conversations").status_code == 401
