"""Exactly once, whatever the cuts: the SDK against a real server through a proxy that cuts
connections at seeded random byte offsets, on each transport.

Every run compares the text the caller received, delta by delta, with the reply the server
stored, and checks that the conversation holds one reply: a send repeated after a cut never
makes a second one.
"""

from __future__ import annotations

import random

import httpx
import pytest

from tests.client.conftest import quick_backoff
from tests.helpers.proxy import FaultProxy
from tests.helpers.server import Server
from tokenwire.client import AsyncTokenwire, ReplyStatus, TransportKind

pytestmark = pytest.mark.anyio

# Multi-byte characters, so that cuts fall inside UTF-8 sequences too.
VOCABULARY = [
    "tokens",
    "naïve",
    "café",
    "日本語",
    "🙂",
    "résumé",
    "streams",
    "every",
    "word",
    "à",
    "la",
    "½",
    "once",
]
MODES = (TransportKind.WEBSOCKET, TransportKind.SSE, TransportKind.POLLING)
# Roughly the bytes one reply takes on each transport (WebSocket frames are deflated): cut
# offsets are drawn up to these, so cuts land anywhere from the handshake to the end.
REPLY_BYTES = {TransportKind.WEBSOCKET: 1200, TransportKind.SSE: 5000, TransportKind.POLLING: 8000}
RUNS = 24


def message(seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(40, 90)))


async def stored(server: Server, path: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers()) as http:
        response = await http.get(path)
        response.raise_for_status()
        body: dict[str, object] = response.json()
        return body


async def new_conversation(server: Server) -> str:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers()) as http:
        response = await http.post("/api/v1/conversations", json={"title": "faults"})
        return str(response.json()["id"])


@pytest.mark.parametrize("seed", range(RUNS))
async def test_text_delivered_equals_text_stored(fast_server: Server, seed: int) -> None:
    mode = MODES[seed % len(MODES)]
    content = message(seed)
    cid = await new_conversation(fast_server)
    async with FaultProxy(
        fast_server.port, seed=seed, cut_rate=0.5, max_offset=REPLY_BYTES[mode], cut_first=1
    ) as proxy:
        # The proxy forbids the better transports, so each run exercises the one it names.
        proxy.block_websocket = mode is not TransportKind.WEBSOCKET
        proxy.block_event_stream = mode is TransportKind.POLLING
        async with AsyncTokenwire(
            proxy.url, fast_server.token, backoff=quick_backoff(seed), poll_interval=0.02
        ) as client:
            deltas: list[str] = []
            async for reply in client.send(cid, content):
                deltas.append(reply.delta)
                if not proxy.stats.cuts:
                    # The seeded cuts may all fall past the end of short connections (more
                    # likely when a busy machine batches the reply into fewer, larger
                    # writes): then the connections carrying the reply are cut here, mid-reply.
                    assert proxy.cut_all() >= 1
    assert proxy.stats.cuts >= 1
    assert reply.status is ReplyStatus.COMPLETE
    if mode is TransportKind.WEBSOCKET:
        # WebSocket cut thrice in a row before delivering anything is benched for SSE.
        assert reply.transport in (TransportKind.WEBSOCKET, TransportKind.SSE)
    else:
        assert reply.transport is mode
    row = await stored(fast_server, f"/api/v1/messages/{reply.message_id}")
    assert "".join(deltas) == reply.text == row["content"] == content
    history = await stored(fast_server, f"/api/v1/conversations/{cid}/messages")
    assert [m["role"] for m in history["items"]] == ["user", "assistant"]  # type: ignore[index]


@pytest.mark.parametrize("seed", range(100, 100 + RUNS // 3))
async def test_a_reply_taken_up_again_from_history(fast_server: Server, seed: int) -> None:
    # The caller stops reading at a random point and, later, continues from the stored
    # message (history's content and seq) while the reply still streams: the stored
    # content plus what follows is the reply, each character once.
    rng = random.Random(seed)
    content = message(seed)
    cid = await new_conversation(fast_server)
    async with (
        FaultProxy(
            fast_server.port, seed=seed, cut_rate=0.4, max_offset=REPLY_BYTES[MODES[0]]
        ) as proxy,
        AsyncTokenwire(
            proxy.url, fast_server.token, backoff=quick_backoff(seed), poll_interval=0.02
        ) as client,
    ):
        first = client.send(cid, content)
        stop_after = rng.randint(1, 10)
        seen = ""
        async for reply in first:
            seen += reply.delta
            if len(seen.split()) >= stop_after:
                break
        await first.aclose()
        partial = (await client.history(cid)).items[-1]
        rest = [reply.delta async for reply in client.resume(partial)]
    row = await stored(fast_server, f"/api/v1/messages/{partial.id}")
    assert row["content"] == content
    assert content.startswith(seen)
    assert partial.content + "".join(rest) == content
