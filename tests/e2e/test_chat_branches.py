"""Messages form a tree: sends at the leaf, edits resent as branches, switching branch,
and the prompt following the branch; on SQLite and on PostgreSQL."""

from __future__ import annotations

from tests.helpers.chat import branch, conversation, send
from tests.helpers.server import Server


def ids(messages: list[dict[str, object]]) -> list[object]:
    return [m["id"] for m in messages]


def test_sends_continue_the_leaf_and_each_message_has_its_parent(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client, title="tree")
        first = send(client, cid, "one two")
        second = send(client, cid, "three four")
        u1, a1 = first["user_message"], first["assistant_message"]
        u2, a2 = second["user_message"], second["assistant_message"]
        assert u1["parent_id"] is None
        assert a1["parent_id"] == u1["id"]
        assert u2["parent_id"] == a1["id"]
        assert a2["parent_id"] == u2["id"]
        shown = branch(client, cid)
        assert ids(shown) == [u1["id"], a1["id"], u2["id"], a2["id"]]
        for message in shown:
            assert message["siblings"] == {"ids": [message["id"]], "index": 0}
        got = client.get(f"/api/v1/conversations/{cid}").json()
        assert got["current_leaf_id"] == a2["id"]


def test_an_edit_resent_under_an_earlier_reply_makes_a_branch(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client, title="edits")
        first = send(client, cid, "alpha beta")
        second = send(client, cid, "gamma delta")
        a1 = first["assistant_message"]
        edited = send(client, cid, "gamma edited", parent_id=a1["id"])
        u2b, a2b = edited["user_message"], edited["assistant_message"]
        assert u2b["parent_id"] == a1["id"]
        assert client.get(f"/api/v1/conversations/{cid}").json()["current_leaf_id"] == a2b["id"]

        shown = branch(client, cid)
        assert [m["content"] for m in shown] == [
            "alpha beta",
            "alpha beta",
            "gamma edited",
            "gamma edited",
        ]
        u2 = second["user_message"]
        assert shown[2]["siblings"] == {"ids": [u2["id"], u2b["id"]], "index": 1}
        # The prompt is the branch: the first turn and the edit, not the replaced question.
        assert a2b["usage"]["prompt_tokens"] == 6  # alpha beta, twice; gamma edited

        # ?leaf= shows the branch through a message, on to the newest message under it.
        old = branch(client, cid, leaf=u2["id"])
        assert ids(old) == [
            first["user_message"]["id"],
            a1["id"],
            u2["id"],
            second["assistant_message"]["id"],
        ]
        assert old[2]["siblings"]["index"] == 0

        # Switching branch moves the leaf; the next send continues the branch switched to.
        switched = client.patch(f"/api/v1/conversations/{cid}", json={"current_leaf_id": u2["id"]})
        assert switched.status_code == 200
        assert switched.json()["current_leaf_id"] == second["assistant_message"]["id"]
        assert ids(branch(client, cid)) == ids(old)
        third = send(client, cid, "epsilon")
        assert third["user_message"]["parent_id"] == second["assistant_message"]["id"]


def test_a_new_first_message_is_a_sibling_of_the_first(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client, title="roots")
        first = send(client, cid, "original start")
        again = send(client, cid, "another start", parent_id=None)
        assert again["user_message"]["parent_id"] is None
        shown = branch(client, cid)
        assert [m["content"] for m in shown] == ["another start", "another start"]
        assert shown[0]["siblings"] == {
            "ids": [first["user_message"]["id"], again["user_message"]["id"]],
            "index": 1,
        }


def test_bad_parents_and_leaves_are_refused_and_change_nothing(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client, title="refusals")
        turn = send(client, cid, "only turn")
        before = branch(client, cid)
        url = f"/api/v1/conversations/{cid}/messages"

        user_parent = client.post(
            url, json={"content": "x", "parent_id": turn["user_message"]["id"]}
        )
        assert user_parent.status_code == 422
        assert user_parent.json()["error"]["code"] == "invalid_parent"
        unknown = client.post(url, json={"content": "x", "parent_id": "nope"})
        assert unknown.status_code == 404
        assert "parent_id" in unknown.json()["error"]["message"]

        elsewhere = conversation(client, title="elsewhere")
        foreign = send(client, elsewhere, "other")["assistant_message"]["id"]
        assert client.post(url, json={"content": "x", "parent_id": foreign}).status_code == 404
        patch = f"/api/v1/conversations/{cid}"
        assert client.patch(patch, json={"current_leaf_id": foreign}).status_code == 404
        null = client.patch(patch, json={"current_leaf_id": None})
        assert null.status_code == 422
        assert null.json()["error"]["code"] == "invalid_leaf"
        assert branch(client, cid) == before


def test_another_user_sees_nothing_of_the_tree(chat_server: Server) -> None:
    other = chat_server.create_user(f"branch-stranger-{id(chat_server)}")
    with chat_server.client() as client, chat_server.client(other) as stranger:
        cid = conversation(client, title="mine")
        reply = send(client, cid, "private words")["assistant_message"]
        assert stranger.get(f"/api/v1/conversations/{cid}/messages").status_code == 404
        assert (
            stranger.patch(
                f"/api/v1/conversations/{cid}", json={"current_leaf_id": reply["id"]}
            ).status_code
            == 404
        )
        assert stranger.post(f"/api/v1/messages/{reply['id']}/regenerate").status_code == 404


def test_dialects_continue_the_current_leaf(chat_server: Server) -> None:
    """A conversation continued through another dialect (seed 002's sessions, naming it by
    id) goes on from the branch the user switched to."""
    with chat_server.client() as client:
        cid = conversation(client, title="dialect")
        first = send(client, cid, "root question")
        send(client, cid, "second question")
        edited = send(client, cid, "edited second", parent_id=first["assistant_message"]["id"])
        with client.stream(
            "POST",
            f"/sessions/{cid}/messages/stream",
            json={"content": "from the session", "role": "user"},
        ) as response:
            assert response.status_code == 200
            response.read()
        shown = branch(client, cid)
        assert [m["content"] for m in shown][2:4] == ["edited second", "edited second"]
        assert shown[4]["content"] == "from the session"
        assert shown[4]["parent_id"] == edited["assistant_message"]["id"]
        assert (
            client.get(f"/api/v1/conversations/{cid}").json()["current_leaf_id"] == shown[-1]["id"]
        )


def test_existing_history_reads_as_one_branch(chat_server: Server) -> None:
    """Conversations kept before the tree (rows without parents) read as their creation
    order: the migration's backfill, exercised here through history a client resends."""
    with chat_server.client() as client:
        response = client.post(
            "/v1/chat/completions",
            json={
                "model": "scripted",
                "messages": [
                    {"role": "user", "content": "earlier one"},
                    {"role": "assistant", "content": "answer one"},
                    {"role": "user", "content": "now this"},
                ],
            },
        )
        assert response.status_code == 200, response.text
        listed = client.get("/api/v1/conversations").json()["items"]
        cid = next(c["id"] for c in listed if c["title"] == "earlier one")
        shown = branch(client, cid)
        assert [m["content"] for m in shown] == [
            "earlier one",
            "answer one",
            "now this",
            "now this",
        ]
        assert [m["parent_id"] for m in shown] == [None, *ids(shown)[:-1]]
