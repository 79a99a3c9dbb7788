"""The OpenAPI schema that client generators and API browsers read."""

from __future__ import annotations

import httpx
import msgspec

from tests.helpers.server import Server
from tokenwire.protocol import resources as wire
from tokenwire.protocol.events import Timings, Usage

REF = "#/components/schemas/{name}"


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
        "/api/v1/messages/{mid}/regenerate",
        "/api/v1/messages/{mid}/continue",
        "/api/v1/search",
        "/api/v1/conversations/{cid}/export",
        "/api/v1/conversations/import",
    ):
        assert path in paths, path
    send = paths["/api/v1/conversations/{cid}/messages"]["post"]
    assert "text/event-stream" in send["responses"]["200"]["content"]
    assert "content" in str(send["requestBody"])


def _ref(shape: object) -> dict[str, str]:
    (ref,), _ = msgspec.json.schema_components([shape], ref_template=REF)
    return ref


def test_the_schema_describes_the_protocol_resources(server: Server) -> None:
    """/openapi.json describes the answers of /api/v1 with the Structs of
    protocol/resources, the ones tokenwire.client decodes: same names, same schemas."""
    spec = httpx.get(f"{server.url}/openapi.json").json()
    _, components = msgspec.json.schema_components(wire.RESOURCES, ref_template=REF)
    served = spec["components"]["schemas"]
    for name, schema in components.items():
        assert served.get(name) == schema, name
    answers = {
        ("/api/v1/conversations", "post", "201"): wire.Conversation,
        ("/api/v1/conversations", "get", "200"): wire.Page[wire.Conversation],
        ("/api/v1/conversations/{cid}", "get", "200"): wire.Conversation,
        ("/api/v1/conversations/{cid}", "patch", "200"): wire.Conversation,
        ("/api/v1/conversations/{cid}/messages", "get", "200"): wire.Page[wire.Message],
        ("/api/v1/conversations/{cid}/messages", "post", "200"): wire.SentTurn,
        ("/api/v1/conversations/{cid}/messages", "post", "201"): wire.SentTurn,
        ("/api/v1/conversations/{cid}/messages", "post", "202"): wire.SentTurn,
        ("/api/v1/messages/{mid}", "get", "200"): wire.Message,
        ("/api/v1/messages/{mid}/cancel", "post", "200"): wire.Message,
        ("/api/v1/personas", "get", "200"): wire.PersonaList,
        ("/api/v1/messages/{mid}/regenerate", "post", "201"): wire.SentTurn,
        ("/api/v1/messages/{mid}/regenerate", "post", "202"): wire.SentTurn,
        ("/api/v1/messages/{mid}/continue", "post", "200"): wire.Message,
        ("/api/v1/messages/{mid}/continue", "post", "202"): wire.Message,
        ("/api/v1/search", "get", "200"): wire.SearchResults,
        ("/api/v1/conversations/{cid}/export", "get", "200"): wire.ConversationExport,
        ("/api/v1/conversations/import", "post", "201"): wire.Conversation,
    }
    for (path, method, status), shape in answers.items():
        content = spec["paths"][path][method]["responses"][status]["content"]
        assert content["application/json"]["schema"] == _ref(shape), (path, method, status)


def _fields(shape: type[msgspec.Struct]) -> set[str]:
    return {field.encode_name for field in msgspec.structs.fields(shape)}


def test_the_answers_are_exactly_the_resources(server: Server) -> None:
    """What the server sends has exactly the fields of the Structs: a field added on one side
    only (the drift a hand-built dict allows) fails here."""
    with server.client() as client:
        conversation = client.post("/api/v1/conversations", json={"title": "shapes"})
        assert set(conversation.json()) == _fields(wire.Conversation)
        cid = conversation.json()["id"]
        sent = client.post(
            f"/api/v1/conversations/{cid}/messages",
            json={"content": "hello shapes", "client_message_id": "shape-1"},
        )
        assert sent.status_code == 201, sent.text
        turn = msgspec.json.decode(sent.content, type=wire.SentTurn)
        assert set(sent.json()) == {"user_message", "assistant_message"}
        reply = sent.json()["assistant_message"]
        assert set(reply) == _fields(wire.Message)
        assert turn.assistant_message.status is wire.ReplyStatus.COMPLETE
        assert turn.assistant_message.usage is not None
        assert turn.assistant_message.timings is not None
        assert set(reply["usage"]) == _fields(Usage)
        assert set(reply["timings"]) == _fields(Timings)
        page = client.get(f"/api/v1/conversations/{cid}/messages")
        assert set(page.json()) == _fields(wire.Page)
        listed = msgspec.json.decode(page.content, type=wire.Page[wire.Message])
        assert [m.id for m in listed.items] == [turn.user_message.id, turn.assistant_message.id]
        personas = client.get("/api/v1/personas")
        assert set(personas.json()) == _fields(wire.PersonaList)
        assert msgspec.json.decode(personas.content, type=wire.PersonaList).items
        found = client.get("/api/v1/search", params={"q": "hello shapes"})
        assert set(found.json()) == _fields(wire.SearchResults)
        hits = msgspec.json.decode(found.content, type=wire.SearchResults).items
        assert hits
        assert set(found.json()["items"][0]) == _fields(wire.SearchHit)
        exported = client.get(f"/api/v1/conversations/{cid}/export")
        assert set(exported.json()) == _fields(wire.ConversationExport)
        assert set(exported.json()["messages"][0]) == _fields(wire.Message)
        regenerated = client.post(f"/api/v1/messages/{turn.assistant_message.id}/regenerate")
        assert set(regenerated.json()["assistant_message"]) == _fields(wire.Message)
        assert set(regenerated.json()["assistant_message"]["siblings"]) == _fields(wire.Siblings)
        missing = client.get("/api/v1/messages/no-such-message")
        assert missing.status_code == 404
        assert msgspec.json.decode(missing.content, type=wire.ErrorBody).error.code == "not_found"
