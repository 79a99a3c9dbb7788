"""The embedded model's context window: once the oldest turns no longer fit, the reply's
``message.start`` and its stored metadata say how many the model did not see."""

from __future__ import annotations

import json

from tests.conftest import ServerFactory
from tests.helpers.chat import conversation


def test_the_embedded_model_says_how_many_turns_it_left_out(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(provider="llama", llama_n_ctx=512, max_tokens=48)
    question = "Tell me something about these words: " + " ".join(
        f"apple{i} river{i}" for i in range(30)
    )
    with server.client(timeout=180) as client:
        cid = conversation(client, title="long")
        starts = []
        for _ in range(5):
            with client.stream(
                "POST",
                f"/api/v1/conversations/{cid}/messages",
                json={"content": question},
                headers={"Accept": "text/event-stream"},
            ) as response:
                assert response.status_code == 200, response.read()
                lines = [ln for ln in response.iter_lines() if ln.startswith("data: ")]
            starts.append(json.loads(lines[0][len("data: ") :]))
        omitted = [s.get("context", {}).get("omitted_turns", 0) for s in starts]
        assert omitted[0] == 0  # the first question fits
        assert omitted[-1] > 0  # by the fifth, the first turns do not
        assert omitted == sorted(omitted)
        last = client.get(f"/api/v1/messages/{starts[-1]['message_id']}").json()
        assert last["metadata"]["context"] == {"omitted_turns": omitted[-1]}
