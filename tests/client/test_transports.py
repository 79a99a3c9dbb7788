"""Stepping down and climbing back: a proxy that refuses WebSocket upgrades (and event
streams) sends the client to SSE (and polling); once it lets them through again, the
client returns to WebSocket, on the next reply or by itself while idle."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.client.conftest import quick_backoff
from tests.helpers.proxy import FaultProxy
from tests.helpers.server import Server
from tokenwire.client import (
    AsyncTokenwire,
    ConnectionState,
    ConnectionStatus,
    Reply,
    ReplyStatus,
    TransportKind,
)

pytestmark = pytest.mark.anyio
TEXT = "one two three four five six seven eight nine ten eleven twelve"
LONG = " ".join(f"w{i}" for i in range(150))


async def conversation(server: Server) -> str:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers()) as http:
        return str((await http.post("/api/v1/conversations", json={})).json()["id"])


async def stored_content(server: Server, message_id: str) -> str:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers()) as http:
        return str((await http.get(f"/api/v1/messages/{message_id}")).json()["content"])


async def collect(client: AsyncTokenwire, cid: str, text: str = TEXT) -> tuple[str, Reply]:
    deltas = []
    async for reply in client.send(cid, text):
        deltas.append(reply.delta)
    return "".join(deltas), reply


async def test_blocked_upgrades_fall_back_to_sse_then_climb_back(fast_server: Server) -> None:
    cid = await conversation(fast_server)
    async with (
        FaultProxy(fast_server.port) as proxy,
        AsyncTokenwire(proxy.url, fast_server.token, climb_after=0.3) as client,
    ):
        seen: list[ConnectionState] = []
        client.on_state_change(seen.append)
        proxy.block_websocket = True
        text, reply = await collect(client, cid)
        assert text == TEXT == await stored_content(fast_server, reply.message_id)
        assert reply.transport is TransportKind.SSE
        assert client.status is ConnectionStatus.DEGRADED_SSE
        assert proxy.stats.blocked_upgrades == 1

        proxy.block_websocket = False
        await asyncio.sleep(0.35)
        text, reply = await collect(client, cid)
        assert text == TEXT
        assert reply.transport is TransportKind.WEBSOCKET
        assert client.status is ConnectionStatus.CONNECTED
    statuses = [state.status for state in seen]
    assert statuses[-1] is ConnectionStatus.CLOSED
    assert ConnectionStatus.DEGRADED_SSE in statuses
    assert statuses.index(ConnectionStatus.CONNECTED) > statuses.index(
        ConnectionStatus.DEGRADED_SSE
    )


async def test_blocked_streams_fall_back_to_polling_then_climb_back(fast_server: Server) -> None:
    cid = await conversation(fast_server)
    async with (
        FaultProxy(fast_server.port) as proxy,
        AsyncTokenwire(proxy.url, fast_server.token, climb_after=0.3, poll_interval=0.02) as client,
    ):
        proxy.block_websocket = proxy.block_event_stream = True
        text, reply = await collect(client, cid)
        assert text == TEXT == await stored_content(fast_server, reply.message_id)
        assert reply.transport is TransportKind.POLLING
        assert client.status is ConnectionStatus.DEGRADED_POLLING

        proxy.block_websocket = proxy.block_event_stream = False
        await asyncio.sleep(0.35)
        text, reply = await collect(client, cid)
        assert text == TEXT
        assert reply.transport is TransportKind.WEBSOCKET
        assert client.status is ConnectionStatus.CONNECTED


async def test_a_reply_cut_on_websocket_finishes_on_sse(fast_server: Server) -> None:
    cid = await conversation(fast_server)
    async with (
        FaultProxy(fast_server.port) as proxy,
        AsyncTokenwire(proxy.url, fast_server.token, backoff=quick_backoff()) as client,
    ):
        deltas: list[str] = []
        transports: list[TransportKind] = []
        async for reply in client.send(cid, LONG):
            deltas.append(reply.delta)
            transports.append(reply.transport)
            if reply.text and not proxy.block_websocket:
                # Mid-reply, the network starts refusing upgrades and drops the socket.
                proxy.block_websocket = True
                proxy.cut_all()
    assert transports[0] is TransportKind.WEBSOCKET
    assert transports[-1] is TransportKind.SSE
    assert reply.status is ReplyStatus.COMPLETE
    assert "".join(deltas) == LONG == await stored_content(fast_server, reply.message_id)


async def test_an_idle_client_climbs_back_by_itself(fast_server: Server) -> None:
    cid = await conversation(fast_server)
    async with FaultProxy(fast_server.port) as proxy:
        proxy.block_websocket = True
        async with AsyncTokenwire(
            proxy.url, fast_server.token, climb_after=0.2, keepalive=0.05
        ) as client:
            await client.history(cid)  # the conversation in view: its socket is the probe
            await asyncio.wait_for(client.wait_for_status(ConnectionStatus.DEGRADED_SSE), 30)
            proxy.block_websocket = False
            await asyncio.wait_for(client.wait_for_status(ConnectionStatus.CONNECTED), 30)
            assert client.transport is TransportKind.WEBSOCKET
