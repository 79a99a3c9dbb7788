"""Regenerate and continue across instances: a reply that ended on one instance is
continued on another, and followed on the first, through the shared Redis log."""

from __future__ import annotations

import json

from tests.helpers.chat import CHAT_SETTINGS, conversation, send, stream
from tests.helpers.server import text_of
from tests.scaleout.conftest import Deployment

LONG = "alpha beta gamma delta epsilon zeta eta theta"


def test_a_reply_cut_on_one_instance_is_continued_on_another(deployment: Deployment) -> None:
    settings = {k.removeprefix("TOKENWIRE_").lower(): v for k, v in CHAT_SETTINGS.items()}
    first, second = deployment(2, **settings)
    with first.client() as a, second.client() as b:
        cid = conversation(a, title="across")
        cut = send(a, cid, LONG)["assistant_message"]
        assert cut["finish_reason"] == "length"
        events = stream(b, f"/api/v1/messages/{cut['id']}/continue")
        assert text_of(events) == LONG
        followed = a.get(f"/api/v1/messages/{cut['id']}/events")
        seen = [
            json.loads(line[6:]) for line in followed.text.splitlines() if line.startswith("data: ")
        ]
        assert text_of(seen) == LONG
        assert seen[-1]["seq"] == events[-1]["seq"]
        regenerated = b.post(f"/api/v1/messages/{cut['id']}/regenerate").json()
        assert regenerated["assistant_message"]["parent_id"] == cut["parent_id"]
        assert (
            a.get(f"/api/v1/conversations/{cid}").json()["current_leaf_id"]
            == (regenerated["assistant_message"]["id"])
        )
