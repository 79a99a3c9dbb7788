"""Regenerate, continue and the context note, against a real server on SQLite and on
PostgreSQL. The scripted model echoes two words a chunk, three chunks at most a reply."""

from __future__ import annotations

import json

from websockets.sync.client import connect

from tests.conftest import ServerFactory
from tests.helpers.chat import CHAT_SETTINGS, branch, conversation, eventually, send, stream
from tests.helpers.server import Server, text_of

LONG = "alpha beta gamma delta epsilon zeta eta theta"  # four chunks: cut after three


def test_regenerate_adds_a_sibling_reply_and_keeps_the_old(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client, title="regen")
        turn = send(client, cid, "say it again")
        old = turn["assistant_message"]
        response = client.post(f"/api/v1/messages/{old['id']}/regenerate")
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["user_message"]["id"] == turn["user_message"]["id"]
        new = body["assistant_message"]
        assert new["id"] != old["id"]
        assert new["status"] == "complete"
        assert new["content"] == "say it again"
        assert new["parent_id"] == turn["user_message"]["id"]
        assert new["siblings"] == {"ids": [old["id"], new["id"]], "index": 1}

        shown = branch(client, cid)
        assert [m["id"] for m in shown] == [turn["user_message"]["id"], new["id"]]
        assert client.get(f"/api/v1/conversations/{cid}").json()["current_leaf_id"] == new["id"]
        kept = client.get(f"/api/v1/messages/{old['id']}").json()
        assert kept["content"] == "say it again"
        assert kept["siblings"] == {"ids": [old["id"], new["id"]], "index": 0}
        # The user message shows once: regenerate is not a second send.
        assert [m["role"] for m in shown] == ["user", "assistant"]


def test_regenerate_streams_over_sse(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client, title="regen sse")
        turn = send(client, cid, "stream me")
        events = stream(client, f"/api/v1/messages/{turn['assistant_message']['id']}/regenerate")
        start, *_, end = events
        assert start["type"] == "message.start"
        assert start["reply_to"] == turn["user_message"]["id"]
        assert start["message_id"] != turn["assistant_message"]["id"]
        assert [e["seq"] for e in events] == list(range(len(events)))
        assert end["type"] == "message.end"
        assert text_of(events) == "stream me"
        siblings = branch(client, cid)[1]["siblings"]
        assert siblings["ids"] == [turn["assistant_message"]["id"], start["message_id"]]


def test_regenerate_refuses_a_user_message(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client, title="regen refusal")
        turn = send(client, cid, "hello")
        response = client.post(f"/api/v1/messages/{turn['user_message']['id']}/regenerate")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "not_a_reply"
        assert len(branch(client, cid)) == 2
        assert client.post("/api/v1/messages/unknown/regenerate").status_code == 404


def test_regenerate_over_the_websocket(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client, title="regen ws")
        turn = send(client, cid, "over the socket")
    url = f"{chat_server.ws_url}/api/v1/conversations/{cid}/ws?token={chat_server.token}"
    with connect(url) as ws:
        old = turn["assistant_message"]["id"]
        ws.send(json.dumps({"type": "message.regenerate", "message_id": old}))
        events = []
        while not events or events[-1]["type"] not in ("message.end", "message.error"):
            events.append(json.loads(ws.recv(30)))
        ws.send(json.dumps({"type": "message.regenerate", "message_id": "nope"}))
        error = json.loads(ws.recv(30))
    assert events[0]["type"] == "message.start"
    assert events[0]["reply_to"] == turn["user_message"]["id"]
    assert events[0]["message_id"] != old
    assert events[-1]["type"] == "message.end"
    assert text_of(events) == "over the socket"
    assert error["type"] == "error"
    assert error["error"]["code"] == "not_found"


def test_continue_a_reply_cut_at_the_length_limit(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client, title="continue")
        cut = send(client, cid, LONG)["assistant_message"]
        assert cut["finish_reason"] == "length"
        assert cut["content"] == "alpha beta gamma delta epsilon zeta"
        last_seq = cut["seq"]

        events = stream(client, f"/api/v1/messages/{cut['id']}/continue")
        start, *deltas, end = events
        assert start["type"] == "message.start"
        assert start["message_id"] == cut["id"]
        # The whole reply (its start resets a client's text), the new events' seqs going on
        # from where the reply was.
        assert text_of(events) == LONG
        assert deltas[-1]["seq"] == last_seq
        assert end["seq"] == last_seq + 1
        assert end["type"] == "message.end"
        assert end["finish_reason"] == "stop"

        stored = client.get(f"/api/v1/messages/{cut['id']}").json()
        assert stored["content"] == LONG
        assert stored["status"] == "complete"
        assert stored["finish_reason"] == "stop"
        assert stored["seq"] == end["seq"]
        assert stored["metadata"]["continued"] == 1
        assert len(branch(client, cid)) == 2  # the same message, grown

        # Resume stays exact: from any seq, the text past it, old and new alike (deltas
        # that follow each other may come merged, carrying the last one's seq).
        chunks = ["alpha beta", " gamma delta", " epsilon zeta", " eta theta"]
        for after in (-1, 0, 2, last_seq - 1):
            replay = client.get(f"/api/v1/messages/{cut['id']}/events", params={"after": after})
            seen = _sse(replay.text)
            seqs = [int(str(e["seq"])) for e in seen]
            assert seqs == sorted(set(seqs))
            assert seqs[0] > after
            assert seqs[-1] == end["seq"]
            assert text_of(seen) == "".join(chunks[max(after, 0) :])


def test_continue_as_json_and_without_waiting(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client, title="continue json")
        cut = send(client, cid, LONG)["assistant_message"]
        started = client.post(f"/api/v1/messages/{cut['id']}/continue", params={"wait": "false"})
        assert started.status_code == 202, started.text
        reopened = started.json()
        assert reopened["id"] == cut["id"]
        assert reopened["content"] == cut["content"]
        # Following from the seq it gives comes to exactly the new text.
        events = client.get(
            f"/api/v1/messages/{cut['id']}/events", params={"after": reopened["seq"]}
        )
        assert text_of(list(_sse(events.text))) == " eta theta"

        again = send(client, cid, LONG)["assistant_message"]
        waited = client.post(f"/api/v1/messages/{again['id']}/continue")
        assert waited.status_code == 200, waited.text
        assert waited.json()["content"] == LONG
        assert waited.json()["finish_reason"] == "stop"


def test_only_a_cut_reply_can_be_continued(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client, title="continue refusal")
        whole = send(client, cid, "short one")
        response = client.post(f"/api/v1/messages/{whole['assistant_message']['id']}/continue")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "not_continuable"
        assert "'stop'" in response.json()["error"]["message"]
        user = client.post(f"/api/v1/messages/{whole['user_message']['id']}/continue")
        assert user.status_code == 400
        stored = client.get(f"/api/v1/messages/{whole['assistant_message']['id']}").json()
        assert stored["content"] == "short one"
        assert stored["status"] == "complete"


def test_a_long_conversation_says_how_many_turns_the_model_no_longer_sees(
    chat_server: Server,
) -> None:
    """The scripted model's window is 30 words: by the fourth turn of ten-word messages the
    first turns no longer fit, and the reply's start and its stored metadata say so."""
    words = "one two three four five six seven eight nine ten"
    with chat_server.client() as client:
        cid = conversation(client, title="context")
        first = send(client, cid, words)["assistant_message"]
        assert "context" not in first["metadata"]
        for _ in range(2):
            send(client, cid, words)
        with client.stream(
            "POST",
            f"/api/v1/conversations/{cid}/messages",
            json={"content": words},
            headers={"Accept": "text/event-stream"},
        ) as response:
            start = json.loads(next(iter(_sse_lines(response))))
        omitted = start["context"]["omitted_turns"]
        # Seven messages of ten words (or six: the replies are cut) before this reply: 30
        # words keep the newest three, and the question with them.
        assert omitted == 4
        reply = eventually(
            lambda: (
                m
                if (m := client.get(f"/api/v1/messages/{start['message_id']}").json())["status"]
                != "streaming"
                else None
            )
        )
        assert reply["metadata"]["context"] == {"omitted_turns": omitted}


def _sse(body: str) -> list[dict[str, object]]:
    return [
        json.loads(line[len("data: ") :]) for line in body.splitlines() if line.startswith("data: ")
    ]


def _sse_lines(response: object) -> list[str]:
    out: list[str] = []
    for line in response.iter_lines():  # type: ignore[attr-defined]
        if line.startswith("data: "):
            out.append(line[len("data: ") :])
            break
    return out


def test_continue_with_the_redis_event_log(
    server_factory: ServerFactory, redis_server: str, redis_prefix: str
) -> None:
    """The same continue where events live in Redis Streams: the stream is reopened, and a
    follower of the whole reply sees one stream of seqs, start to new end."""
    server = server_factory(
        redis_url=redis_server, redis_prefix=redis_prefix, **_settings(CHAT_SETTINGS)
    )
    with server.client() as client:
        cid = conversation(client, title="continue on redis")
        cut = send(client, cid, LONG)["assistant_message"]
        events = stream(client, f"/api/v1/messages/{cut['id']}/continue")
        assert text_of(events) == LONG
        whole = _sse(client.get(f"/api/v1/messages/{cut['id']}/events").text)
        assert text_of(whole) == LONG
        assert whole[0]["type"] == "message.start"
        assert whole[-1]["seq"] == events[-1]["seq"]


def _settings(env: dict[str, str]) -> dict[str, str]:
    return {k.removeprefix("TOKENWIRE_").lower(): v for k, v in env.items()}


def test_continue_over_the_websocket(chat_server: Server) -> None:
    with chat_server.client() as client:
        cid = conversation(client, title="continue ws")
        cut = send(client, cid, LONG)["assistant_message"]
    url = f"{chat_server.ws_url}/api/v1/conversations/{cid}/ws?token={chat_server.token}"
    with connect(url) as ws:
        ws.send(json.dumps({"type": "message.continue", "message_id": cut["id"]}))
        events = []
        while not events or events[-1]["type"] not in ("message.end", "message.error"):
            events.append(json.loads(ws.recv(30)))
        ws.send(json.dumps({"type": "message.continue", "message_id": cut["id"]}))
        refused = json.loads(ws.recv(30))
    assert events[0]["type"] == "message.start"
    assert events[0]["message_id"] == cut["id"]
    assert text_of(events) == LONG
    assert refused["error"]["code"] == "not_continuable"
    assert refused["message_id"] == cut["id"]
