"""kill -9 of the instance running a reply, with followers on the survivor.

Whether the reply is continued or ended, every follower on the surviving instance ends
within seconds, and what it was shown is the stored text or a prefix of it (the whole of
it when it was told ``end``). With ``TOKENWIRE_SOAK=1`` several replies are killed.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.helpers.followers import CanonicalSocketFollower, Follower, SSEFollower, stored_reply
from tests.helpers.hostile import soak
from tests.helpers.logs import faults
from tests.scaleout.conftest import Deployment

LONG = " ".join(f"word{i}" for i in range(120))
ROUNDS = 4 if soak() else 1


@pytest.mark.parametrize("takeover", ["continue", "interrupt"])
def test_killing_the_owner_ends_every_follower_with_stored_text(
    deployment: Deployment, takeover: str
) -> None:
    for round_ in range(ROUNDS):
        owner, survivor = deployment(
            2, takeover=takeover, scripted_delay_ms=40, scripted_chunk_words=1
        )
        with owner.client() as client:
            cid = client.post("/api/v1/conversations", json={}).json()["id"]
        watcher = CanonicalSocketFollower(survivor, cid, "").start()
        assert watcher.ready.wait(60)
        time.sleep(0.3)  # the watch is registered once the socket is open; a margin anyway
        with owner.client() as client:
            response = client.post(
                f"/api/v1/conversations/{cid}/messages",
                params={"wait": "false"},
                json={"content": LONG},
            )
            mid = response.json()["assistant_message"]["id"]
        followers: list[Follower] = [watcher, SSEFollower(survivor, mid).start()]
        for follower in followers:
            follower.wait_started()
        time.sleep(0.5)
        owner.proc.send_signal(signal.SIGKILL)
        owner.proc.wait(10)
        for follower in followers:
            assert follower.join(60), f"{follower.name}: no end"
            assert follower.outcome is not None, follower.problem
            stored = stored_reply(survivor, follower)
            assert stored["status"] != "streaming"
            assert stored["content"].startswith(follower.text)
            if follower.outcome == "end":
                assert stored["content"] == follower.text == LONG
            if takeover == "interrupt":
                assert follower.outcome == "error:interrupted"
        print(f"round {round_} ({takeover}): " + ", ".join(str(f.outcome) for f in followers))
        assert faults(survivor.log()) == []
        survivor.stop()
