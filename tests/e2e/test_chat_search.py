"""Search over a user's own messages and titles: SQLite FTS5 and PostgreSQL full-text,
ranked, with snippets, and never another user's hits."""

from __future__ import annotations

import uuid

import httpx

from tests.helpers.chat import conversation, eventually, send
from tests.helpers.server import Server


def search(client: httpx.Client, q: str, **params: object) -> list[dict[str, object]]:
    response = client.get("/api/v1/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def test_search_finds_messages_and_titles_ranked_with_snippets(chat_server: Server) -> None:
    word = "zq" + uuid.uuid4().hex[:6]  # a word no other test writes
    with chat_server.client() as client:
        titled = conversation(client, title=f"Notes on {word}")
        sent = send(client, titled, f"{word} appears here twice: {word}")
        plain = conversation(client, title="unrelated")
        once = send(client, plain, f"only once {word} in a longer sentence about other things")
        hits = search(client, word)
        found = {(h["conversation_id"], h["message_id"]) for h in hits}
        assert (titled, None) in found  # the title
        assert (titled, sent["user_message"]["id"]) in found
        assert (plain, once["user_message"]["id"]) in found
        ranks = [float(str(h["rank"])) for h in hits]
        assert ranks == sorted(ranks, reverse=True)
        by_message = {h["message_id"]: h for h in hits}
        hit = by_message[once["user_message"]["id"]]
        assert word in str(hit["snippet"])
        assert hit["role"] == "user"
        assert hit["conversation_title"] == "unrelated"
        # Twice in a short message ranks above once in a long one.
        assert float(str(by_message[sent["user_message"]["id"]]["rank"])) > float(str(hit["rank"]))
        # A word prefix matches; every word must match; case does not matter.
        assert search(client, word[:-2].upper())
        assert not search(client, f"{word} absentword{uuid.uuid4().hex[:6]}")
        assert len(search(client, word, limit=1)) == 1


def test_replies_are_found_once_they_end(chat_server: Server) -> None:
    word = "zr" + uuid.uuid4().hex[:6]
    with chat_server.client() as client:
        cid = conversation(client, title="replies")
        turn = send(client, cid, f"echo {word}")
        hits = eventually(lambda: search(client, word))
        assert turn["assistant_message"]["id"] in {h["message_id"] for h in hits}
        # A rename is searchable at once, and the old title no longer is.
        renamed = "zs" + uuid.uuid4().hex[:6]
        client.patch(f"/api/v1/conversations/{cid}", json={"title": f"now {renamed}"})
        assert [h["conversation_id"] for h in search(client, renamed)] == [cid]


def test_no_user_sees_another_users_hits(chat_server: Server) -> None:
    word = "zt" + uuid.uuid4().hex[:6]
    other = chat_server.create_user(f"search-other-{uuid.uuid4().hex[:6]}")
    with chat_server.client() as alice, chat_server.client(other) as bob:
        mine = conversation(alice, title=f"alice {word}")
        send(alice, mine, f"alice says {word}")
        theirs = conversation(bob, title=f"bob {word}")
        send(bob, theirs, f"bob says {word}")
        alice_sees = {h["conversation_id"] for h in search(alice, word)}
        bob_sees = {h["conversation_id"] for h in search(bob, word)}
        assert alice_sees == {mine}
        assert bob_sees == {theirs}
        # A deleted conversation is found no more.
        assert alice.delete(f"/api/v1/conversations/{mine}").status_code == 204
        assert search(alice, word) == []


def test_bad_queries_are_refused_or_find_nothing(chat_server: Server) -> None:
    with chat_server.client() as client:
        empty = client.get("/api/v1/search", params={"q": "  "})
        assert empty.status_code == 400
        assert empty.json()["error"]["code"] == "empty_query"
        assert client.get("/api/v1/search").status_code == 422
        assert client.get("/api/v1/search", params={"q": "x", "limit": 0}).status_code == 422
        # FTS syntax in a query is just text.
        for odd in (
            '"unbalanced',
            "a OR b NEAR(",
            "col:value",
            "!!! ***",
            "x' OR 1=1 --",
            "___ abc",
            "a & | ! :* b",
        ):
            assert client.get("/api/v1/search", params={"q": odd}).status_code == 200, odd
