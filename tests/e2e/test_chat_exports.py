"""Export (JSON: the whole tree; Markdown: the current branch) and import, titles the model
writes, and labels; on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ServerFactory
from tests.helpers.chat import branch, conversation, eventually, send
from tests.helpers.server import Server


def _tree(client: Any, title: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    cid = conversation(client, title=title)
    first = send(client, cid, "first question")
    send(client, cid, "second question")
    edited = send(client, cid, "second edited", parent_id=first["assistant_message"]["id"])
    return cid, first, edited


def test_export_json_is_the_whole_tree_and_imports_back(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid, _first, edited = _tree(client, "to export")
        response = client.get(f"/api/v1/conversations/{cid}/export")
        assert response.status_code == 200
        assert "attachment" in response.headers["content-disposition"]
        exported = response.json()
        assert exported["format"] == "tokenwire.conversation"
        assert exported["version"] == 1
        assert exported["conversation"]["id"] == cid
        assert exported["conversation"]["current_leaf_id"] == edited["assistant_message"]["id"]
        assert [m["content"] for m in exported["messages"]] == [
            "first question",
            "first question",
            "second question",
            "second question",
            "second edited",
            "second edited",
        ]
        assert all("metadata" in m and "created_at" in m for m in exported["messages"])

        imported = client.post("/api/v1/conversations/import", json=exported)
        assert imported.status_code == 201, imported.text
        made = imported.json()
        assert made["id"] != cid
        assert made["title"] == "to export"
        shown = branch(client, made["id"])
        assert [m["content"] for m in shown] == [m["content"] for m in branch(client, cid)]
        assert shown[2]["siblings"]["index"] == 1
        assert len(shown[2]["siblings"]["ids"]) == 2
        assert not {m["id"] for m in shown} & {m["id"] for m in exported["messages"]}
        # The imported conversation goes on like any other.
        more = send(client, made["id"], "after import")
        assert more["user_message"]["parent_id"] == shown[-1]["id"]
        # The prompt: the imported branch (four messages of two words) and the new one.
        assert more["assistant_message"]["usage"]["prompt_tokens"] == 4 * 2 + 2
        # Its replies replay from the store, text and all.
        events = client.get(f"/api/v1/messages/{shown[1]['id']}/events")
        assert "first question" in events.text


def test_export_markdown_is_the_current_branch(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid, _first, _edited = _tree(client, "Markdown export")
        response = client.get(f"/api/v1/conversations/{cid}/export", params={"format": "markdown"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/markdown")
        text = response.text
        assert text.startswith("# Markdown export\n")
        assert text.count("## User") == 2
        assert "second edited" in text
        assert "second question" not in text
        bad = client.get(f"/api/v1/conversations/{cid}/export", params={"format": "pdf"})
        assert bad.status_code == 422


def test_import_refuses_what_is_not_an_export(chat_server: Server) -> None:
    with chat_server.client() as client:
        before = len(client.get("/api/v1/conversations", params={"limit": 200}).json()["items"])
        url = "/api/v1/conversations/import"
        assert client.post(url, content=b"not json").status_code == 400
        missing = client.post(url, json={"conversation": {"id": "x"}})
        assert missing.status_code == 400
        assert "messages" in missing.json()["error"]["message"]
        wrong = client.post(
            url, json={"format": "other", "conversation": {"id": "x"}, "messages": []}
        )
        assert wrong.status_code == 422
        orphan = {
            "conversation": {"id": "x"},
            "messages": [
                {
                    "id": "m1",
                    "conversation_id": "x",
                    "role": "user",
                    "content": "hi",
                    "status": "complete",
                    "parent_id": "nowhere",
                }
            ],
        }
        refused = client.post(url, content=json.dumps(orphan))
        assert refused.status_code == 422
        assert "messages[0].parent_id" in refused.json()["error"]["message"]
        after = len(client.get("/api/v1/conversations", params={"limit": 200}).json()["items"])
        assert after == before


def test_the_model_titles_an_untitled_conversation_in_plain_text(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client)
        send(client, cid, "**Plans** for [the trip](https://example.com/rome) to Rome")

        def titled() -> str | None:
            title: str | None = client.get(f"/api/v1/conversations/{cid}").json()["title"]
            return title

        # The scripted model echoes the message it is asked to title, Markdown and all.
        assert eventually(titled) == "Plans for the trip to Rome"
        send(client, cid, "a second turn changes nothing")
        assert titled() == "Plans for the trip to Rome"
        renamed = client.patch(f"/api/v1/conversations/{cid}", json={"title": "Mine"})
        assert renamed.json()["title"] == "Mine"

        kept = conversation(client, title="Chosen by me")
        send(client, kept, "# Something else entirely")
        send(client, kept, "again")
        assert client.get(f"/api/v1/conversations/{kept}").json()["title"] == "Chosen by me"


def test_a_fallback_reply_is_labelled_with_what_wrote_it(
    server_factory: ServerFactory, database: dict[str, str]
) -> None:
    """With openai first (its upstream down) and the scripted model next, the reply is the
    scripted model's, and stored as such; the start-up line names the whole chain."""
    server = server_factory(
        providers="openai,scripted",
        openai_base_url="http://127.0.0.1:9/v1",
        **database,
        openai_timeout_s=5,
    )
    with server.client() as client:
        cid = conversation(client, title="labels")
        reply = send(client, cid, "who wrote this")["assistant_message"]
    assert reply["content"] == "who wrote this"
    assert reply["metadata"]["provider"] == "scripted"
    assert reply["metadata"]["fallbacks"][0]["from"] == "openai"
    assert reply["model"] == "scripted"  # not gpt-4o-mini, the first model of the chain
    with server.client() as client:
        assert client.get(f"/api/v1/messages/{reply['id']}").json()["model"] == "scripted"
    assert "tokenwire: openai, then scripted model" in server.log()
