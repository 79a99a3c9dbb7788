"""Continue a reply that was cancelled, or interrupted by a restart (its events then gone
from the in-process log and rebuilt from the row), on SQLite and on PostgreSQL."""

from __future__ import annotations

import signal
from typing import Any

import httpx

from tests.conftest import ServerFactory
from tests.helpers.chat import conversation, eventually, stream
from tests.helpers.server import text_of

WORDS = "one two three four five six seven eight"
SLOW = {"scripted_chunk_words": 1, "scripted_delay_ms": 400, "shutdown_grace_s": 0.5}


def _start(client: httpx.Client, cid: str) -> dict[str, Any]:
    """Send without waiting; the reply once it has some text."""
    sent = client.post(
        f"/api/v1/conversations/{cid}/messages", params={"wait": "false"}, json={"content": WORDS}
    )
    assert sent.status_code == 202, sent.text
    mid = sent.json()["assistant_message"]["id"]

    def started() -> dict[str, Any] | None:
        reply: dict[str, Any] = client.get(f"/api/v1/messages/{mid}").json()
        return reply if reply["content"] else None

    return eventually(started)  # type: ignore[no-any-return]


def test_continue_a_cancelled_reply(
    server_factory: ServerFactory, database: dict[str, str]
) -> None:
    server = server_factory(**SLOW, **database)
    with server.client() as client:
        cid = conversation(client, title="cancelled")
        reply = _start(client, cid)
        cancelled = client.post(f"/api/v1/messages/{reply['id']}/cancel").json()
        assert cancelled["status"] == "cancelled"
        assert WORDS.startswith(cancelled["content"])
        assert cancelled["content"] != WORDS
        events = stream(client, f"/api/v1/messages/{reply['id']}/continue")
        assert text_of(events) == WORDS
        assert events[-1]["finish_reason"] == "stop"
        stored = client.get(f"/api/v1/messages/{reply['id']}").json()
        assert stored["content"] == WORDS
        assert stored["status"] == "complete"


def test_continue_a_reply_interrupted_by_a_restart(
    server_factory: ServerFactory, database: dict[str, str]
) -> None:
    first = server_factory(**SLOW, **database)
    with first.client() as client:
        cid = conversation(client, title="interrupted")
        reply = _start(client, cid)
    first.stop(signal.SIGTERM)  # drains: the running reply ends interrupted
    second = server_factory(first.data_dir, token=first.token, **SLOW, **database)
    with second.client() as client:
        cut = client.get(f"/api/v1/messages/{reply['id']}").json()
        assert cut["status"] == "interrupted"
        assert WORDS.startswith(cut["content"])
        # The in-process log went with the first process: the reply's events up to its
        # old end are rebuilt from the row, exactly, and the new ones go on from there.
        started = client.post(f"/api/v1/messages/{reply['id']}/continue", params={"wait": "false"})
        assert started.status_code == 202, started.text
        after = started.json()["seq"]
        new = client.get(f"/api/v1/messages/{reply['id']}/events", params={"after": after})
        assert cut["content"] + text_of(_events(new.text)) == WORDS
        whole = _events(client.get(f"/api/v1/messages/{reply['id']}/events").text)
        assert [e["seq"] for e in whole] == sorted({e["seq"] for e in whole})
        assert text_of(whole) == WORDS
        assert client.get(f"/api/v1/messages/{reply['id']}").json()["status"] == "complete"


def _events(body: str) -> list[dict[str, Any]]:
    import json

    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
