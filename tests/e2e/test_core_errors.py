"""Auth, isolation between users, and bad input: clear errors, nothing lost."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from tests.helpers.server import Server


def test_missing_or_invalid_token_is_401(server: Server) -> None:
    bare = httpx.get(f"{server.url}/api/v1/conversations")
    assert bare.status_code == 401
    assert bare.json()["error"]["code"] == "unauthorized"
    assert bare.headers["www-authenticate"] == "Bearer"
    wrong = httpx.get(
        f"{server.url}/api/v1/conversations", headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    basic = httpx.get(f"{server.url}/api/v1/conversations", headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 401


def test_another_users_resources_are_404_and_never_data(server: Server) -> None:
    alice, bob = server.create_user("alice"), server.create_user("bob")
    with server.client(alice) as a:
        cid = a.post("/api/v1/conversations", json={"title": "secret"}).json()["id"]
        turn = a.post(
            f"/api/v1/conversations/{cid}/messages", json={"content": "private words"}
        ).json()
    mid = turn["assistant_message"]["id"]
    with server.client(bob) as b:
        checks = [
            b.get(f"/api/v1/conversations/{cid}"),
            b.patch(f"/api/v1/conversations/{cid}", json={"title": "mine"}),
            b.get(f"/api/v1/conversations/{cid}/messages"),
            b.post(f"/api/v1/conversations/{cid}/messages", json={"content": "hi"}),
            b.get(f"/api/v1/messages/{mid}"),
            b.get(f"/api/v1/messages/{mid}/events"),
            b.post(f"/api/v1/messages/{mid}/cancel"),
            b.delete(f"/api/v1/conversations/{cid}"),
        ]
        for response in checks:
            assert response.status_code == 404, (response.request.url, response.text)
            assert response.json()["error"]["code"] == "not_found"
            assert "private" not in response.text
            assert "secret" not in response.text
        assert b.get("/api/v1/conversations").json()["items"] == []
    with server.client(alice) as a:
        assert a.get(f"/api/v1/conversations/{cid}").json()["title"] == "secret"
        assert len(a.get(f"/api/v1/conversations/{cid}/messages").json()["items"]) == 2


def test_bad_input_gets_clear_errors_and_stores_nothing(server: Server) -> None:
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        url = f"/api/v1/conversations/{cid}/messages"
        malformed = client.post(
            url, content=b'{"content": "unterminated', headers={"Content-Type": "application/json"}
        )
        assert malformed.status_code == 400
        assert malformed.json()["error"]["code"] == "invalid_json"
        missing = client.post(url, json={"text": "wrong field"})
        assert missing.status_code == 422
        assert "content" in missing.json()["error"]["message"]
        empty = client.post(url, json={"content": "  "})
        assert empty.status_code == 400
        assert empty.json()["error"]["code"] == "empty_content"
        too_long = client.post(url, json={"content": "x" * 40_000})
        assert too_long.status_code == 413
        assert too_long.json()["error"]["code"] == "content_too_long"
        huge = client.post(
            url, content=b"x" * (9 * 1024 * 1024), headers={"Content-Type": "application/json"}
        )
        assert huge.status_code == 413
        assert huge.json()["error"]["code"] == "payload_too_large"
        assert client.get(url).json()["items"] == []

        unknown = "0190a5e0-0000-7000-8000-000000000000"
        for response in (
            client.get(f"/api/v1/conversations/{unknown}"),
            client.get("/api/v1/conversations/not-a-uuid"),
            client.get(f"/api/v1/messages/{unknown}"),
            client.post(f"/api/v1/messages/{unknown}/cancel"),
            client.post(f"/api/v1/conversations/{unknown}/messages", json={"content": "hi"}),
        ):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"
        bad_id = client.get(f"/api/v1/messages/{unknown}/events", headers={"Last-Event-ID": "abc"})
        assert bad_id.status_code == 400
        nowhere = client.get("/api/v1/nowhere")
        assert nowhere.status_code == 404
        assert nowhere.json()["error"]["code"] == "not_found"


def test_an_oversized_chunked_body_is_413_on_every_route(server: Server) -> None:
    """No Content-Length to trust: the limit holds as the bytes arrive, and the answer is
    the same 413 as for a body that announced its size."""

    def chunks() -> Iterator[bytes]:
        yield b'{"content": "'
        for _ in range(9):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
        for path in (f"/api/v1/conversations/{cid}/messages", "/v1/chat/completions"):
            response = client.post(
                path, content=chunks(), headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 413, (path, response.text)
            assert "content-length" not in response.request.headers
            assert response.json()["error"]["code"] == "payload_too_large"
        assert client.get(f"/api/v1/conversations/{cid}/messages").json()["items"] == []
