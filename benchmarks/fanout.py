"""The fan-out mode of the relay benchmark: one reply, many subscribers, some never reading.

One reply is sent with ``wait=false``; ``--subscribers`` clients follow it over SSE
(``GET /api/v1/messages/{id}/events``), or with ``--paths ws`` over the canonical WebSocket
(``stream.resume`` on the conversation's socket), ``--stalled`` of them on sockets with a tiny
receive buffer that they never read. Meanwhile another conversation sends a short reply every half
second: its TTFT against the same before the fan-out shows what the fan-out costs others.
Prints the reply's pace as the readers saw it, the server CPU per subscriber per event, and
the bystander's TTFT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import time
from typing import TYPE_CHECKING, Any

import load
from load import Result

if TYPE_CHECKING:
    from relay import Bench

BYSTANDER_TOKENS = 5


async def send_later(host: str, port: int, token: str, cid: str, tokens: int) -> str:
    """Send a message with ``wait=false``; the reply's id."""
    body = json.dumps({"content": str(tokens)}).encode()
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {token}",
        "connection": "close",
    }
    reader, writer = await load._open(
        host, port, load._post(f"/api/v1/conversations/{cid}/messages?wait=false", body, headers)
    )
    data = await reader.read()
    writer.close()
    return str(json.loads(data.split(b"\r\n\r\n", 1)[1])["assistant_message"]["id"])


def _get(path: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nhost: bench\r\naccept: text/event-stream\r\n"
        f"authorization: Bearer {token}\r\n\r\n"
    ).encode()


async def reader(host: str, port: int, token: str, mid: str, result: Result) -> None:
    started = time.monotonic()
    r, w = await load._open(host, port, _get(f"/api/v1/messages/{mid}/events", token))
    try:
        status, _ = await load._head(r)
        if status != 200:
            result.failure = f"HTTP {status}"
            return
        async for data in load._events(r):
            if took(json.loads(data), result, started):
                return
    finally:
        w.close()


def took(event: dict[str, Any], result: Result, started: float) -> bool:
    """Account for one event; True once the reader is done (the end, or a problem)."""
    if event["type"] == "message.delta":
        result.failure = result.take(event["text"], started)
        return result.failure is not None
    if event["type"] in ("message.end", "message.error"):
        result.ended = True
        return True
    return False


def _resume(mid: str) -> bytes:
    return load.ws_frame(json.dumps({"type": "stream.resume", "message_id": mid}).encode())


async def socket_reader(
    host: str, port: int, token: str, cid: str, mid: str, result: Result
) -> None:
    started = time.monotonic()
    try:
        r, w = await load.ws_open(host, port, f"/api/v1/conversations/{cid}/ws", token)
    except ConnectionError as exc:
        result.failure = str(exc)
        return
    try:
        w.write(_resume(mid))
        while True:
            opcode, payload = await load.ws_read(r)
            if opcode == 8:
                result.failure = "socket closed"
                return
            if opcode == 1 and took(json.loads(payload), result, started):
                return
    finally:
        await load.ws_close(r, w)


async def stalled(host: str, port: int, token: str, cid: str, mid: str, ws: bool) -> socket.socket:
    """A subscriber that asks for the events and never reads them (not even, on a socket,
    the handshake's answer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (host, port))
    if ws:
        request = (
            f"GET /api/v1/conversations/{cid}/ws HTTP/1.1\r\nhost: bench\r\n"
            "upgrade: websocket\r\nconnection: Upgrade\r\n"
            "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n"
            f"authorization: Bearer {token}\r\n\r\n"
        )
        await loop.sock_sendall(sock, request.encode() + _resume(mid))
    else:
        await loop.sock_sendall(sock, _get(f"/api/v1/messages/{mid}/events", token))
    return sock


async def bystander(host: str, port: int, token: str, cid: str) -> float | None:
    result = Result()
    await load.sse_reply(host, port, cid, BYSTANDER_TOKENS, token, result)
    return result.ttft if result.failure is None else None


async def run(bench: Bench, args: argparse.Namespace) -> None:
    s, host = bench.server, "127.0.0.1"
    tokens = args.tokens
    n = args.subscribers
    n_stalled = int(n * args.stalled)
    ws = args.paths[0] == "ws"
    cid, other = await bench.conversations(2)
    calm = [await bystander(host, s.port, s.token, other) for _ in range(5)]
    await asyncio.sleep(1.0)

    mid = await send_later(host, s.port, s.token, cid, tokens)
    results = [Result() for _ in range(n - n_stalled)]
    socks: list[socket.socket] = []
    readers: list[asyncio.Task[None]] = []
    for i in range(0, n, 100):  # in steps, so the listen backlog holds them
        for j in range(i, min(n, i + 100)):
            if j < n_stalled:
                socks.append(await stalled(host, s.port, s.token, cid, mid, ws))
            else:
                result = results[j - n_stalled]
                follow = (
                    socket_reader(host, s.port, s.token, cid, mid, result)
                    if ws
                    else reader(host, s.port, s.token, mid, result)
                )
                readers.append(asyncio.create_task(follow))
        await asyncio.sleep(0.01)
    # Measured once every subscriber is in (each reader has had its first event): from then
    # on the server only relays.
    deadline = time.monotonic() + 30
    while any(r.ttft is None for r in results) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # a poll: the readers are plain coroutines, with no event
    settled = time.monotonic()
    cpu_before = bench_cpu(bench)
    system_before = bench_system(bench)

    async def cpu_at_the_end() -> tuple[float, float]:
        # When the last reader has its terminal event, before the connections close: what
        # the closes cost (a closing handshake per WebSocket) is not the relay's.
        pairs = list(zip(results, readers, strict=True))
        while not all(r.ended or r.failure or t.done() for r, t in pairs):  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # a poll, as above
        return bench_cpu(bench) - cpu_before, bench_system(bench) - system_before

    measured = asyncio.create_task(cpu_at_the_end())
    busy: list[float | None] = []
    while not all(t.done() for t in readers):
        busy.append(await bystander(host, s.port, s.token, other))
        await asyncio.sleep(0.5)
    await asyncio.gather(*readers, return_exceptions=True)
    cpu, system = await measured
    for sock in socks:
        sock.close()

    ok = [r for r in results if r.failure is None and r.tokens == tokens]
    # Tokens the upstream stamped after the subscribers settled: live relaying only.
    live = [
        lag for r in ok for lag, at in zip(r.lags, r.arrivals, strict=True) if at - lag >= settled
    ]
    events = max(
        (
            sum(1 for lag, at in zip(r.lags, r.arrivals, strict=True) if at - lag >= settled)
            for r in ok
        ),
        default=0,
    )
    last_lags = sorted(r.lags[-1] for r in ok if r.lags)
    model_s = tokens / args.tps
    print(
        f"fan-out: one {tokens}-token reply at {args.tps:g} tok/s ({model_s:.1f} s at the model's"
        f" pace), {n} {'WebSocket' if ws else 'SSE'} subscribers, {n_stalled} of them never reading"
    )
    print(f"readers with the whole text      {len(ok)}/{len(results)}")
    if last_lags:
        print(
            f"reply's pace                     last token {statistics.median(last_lags):.2f} s "
            f"behind the model at the median reader, {last_lags[-1]:.2f} s at the slowest"
        )
        print(
            f"live token lag (arrival-stamp)   p50 {load_pct(live, 0.5) * 1e3:.1f} ms, "
            f"p99 {load_pct(live, 0.99) * 1e3:.1f} ms ({events} events after all joined)"
        )
    print(
        f"server CPU                       {cpu:.2f} s from then to the reply's end"
        f" ({system / max(cpu, 1e-9):.0%} of it in the kernel)"
    )
    per = 1e6 / max(1, n * events)
    print(
        f"CPU per subscriber per event     {cpu * per:.2f} µs"
        f" ({(cpu - system) * per:.2f} µs user, {system * per:.2f} µs kernel)"
    )
    calm_ok = [t for t in calm if t is not None]
    busy_ok = [t for t in busy if t is not None]
    print(
        f"bystander TTFT                   {statistics.median(calm_ok) * 1e3:.0f} ms before, "
        f"{statistics.median(busy_ok) * 1e3 if busy_ok else float('nan'):.0f} ms p50 / "
        f"{max(busy_ok) * 1e3 if busy_ok else float('nan'):.0f} ms max during "
        f"({len(busy_ok)} sends, {len(busy) - len(busy_ok)} failed)"
    )


def bench_cpu(bench: Bench) -> float:
    from relay import cpu_seconds

    return cpu_seconds(bench.pid)


def bench_system(bench: Bench) -> float:
    from relay import cpu_times

    return cpu_times(bench.pid)[1]


def load_pct(values: list[float], q: float) -> float:
    from relay import pct

    return pct(values, q)
