"""The OpenAPI schema that client generators and API browsers read."""

from __future__ import annotations

import httpx

from tests.helpers.server import Server


def test_the_schema_names_the_canonical_api(server: Server) -> None:
    response = httpx.get(f"{server.url}/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["title"] == "tokenwire"
    paths = spec["paths"]
    for path in (
        "/api/v1/conversations",
        "/api/v1/conversations/{cid}",
        "/api/v1/conversations/{cid}/messages",
        "/api/v1/messages/{mid}",
        "/api/v1/messages/{mid}/events",
        "/api/v1/messages/{mid}/cancel",
        "/api/v1/personas",
    ):
        assert path in paths, path
    send = paths["/api/v1/conversations/{cid}/messages"]["post"]
    assert "text/event-stream" in send["responses"]["200"]["content"]
    assert "content" in str(send["requestBody"])
