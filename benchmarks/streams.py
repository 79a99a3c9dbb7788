"""Many concurrent streams on one server: what the server adds per token.

Starts ``tokenwire serve`` with the scripted model (one word every ``--delay-ms``), opens
``--streams`` SSE replies at once over raw sockets, and prints, measured side by side in one
run:

- server CPU time per token delivered (from /proc, user + system), in microseconds;
- added latency per token: how late each token arrives against the model's own pacing
  (the first token's arrival plus i times the delay), p50, p99 and max over all tokens;
- that every stream's text equals what was sent (the scripted model echoes).

With ``--idle N`` it then holds N idle WebSockets (open on a conversation, nothing to say)
and, on a fresh server, N idle SSE streams (following a reply whose next word is an hour
away), and prints the server's resident memory per connection.

    .venv/bin/python benchmarks/streams.py --streams 2000 --words 100 --delay-ms 20
    .venv/bin/python benchmarks/streams.py --streams 0 --idle 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import load
from tests.helpers.server import Server, start_server

from tokenwire.protocol.sse import SSEDecoder

T = TypeVar("T")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


async def request(
    host: str, port: int, raw: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    writer.write(raw)
    await writer.drain()
    return reader, writer


async def create_conversation(host: str, port: int, token: str) -> str:
    body = b"{}"
    reader, writer = await request(
        host,
        port,
        b"POST /api/v1/conversations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (token.encode(), len(body), body),
    )
    data = await reader.read()
    writer.close()
    return str(json.loads(data.split(b"\r\n\r\n", 1)[1])["id"])


async def stream(
    host: str, port: int, token: str, cid: str, text: str, delay: float
) -> tuple[list[float], int, str]:
    """One SSE reply; returns (each token's lateness in seconds, delta frames, text)."""
    body = json.dumps({"content": text}).encode()
    reader, writer = await request(
        host,
        port,
        b"POST /api/v1/conversations/%s/messages HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer %s\r\nAccept: text/event-stream\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (cid.encode(), token.encode(), len(body), body),
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n", 1)[0], head
    decoder = SSEDecoder()
    parts: list[str] = []
    first = 0.0
    late: list[float] = []
    index = 0  # of the next token: a merged delta carries several
    deltas = 0
    done = False
    while not done:
        # chunked transfer encoding: size line, data, CRLF
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        if size == 0:
            break
        chunk = await reader.readexactly(size + 2)
        for event in decoder.feed(chunk[:-2]):
            payload = json.loads(event.data)
            if payload["type"] == "message.delta":
                now = time.monotonic()
                if not first:
                    first = now
                deltas += 1
                parts.append(payload["text"])
                for _ in payload["text"].split():
                    late.append(now - (first + index * delay))
                    index += 1
            elif payload["type"] in ("message.end", "message.error"):
                done = True
    writer.close()
    return late, deltas, "".join(parts)


async def phase(
    host: str, port: int, token: str, pid: int, streams: int, words: int, delay: float
) -> dict[str, float]:
    """``streams`` concurrent replies of ``words`` tokens each; CPU, pacing and exactness."""
    text = " ".join(f"w{i}" for i in range(words))
    cids = await asyncio.gather(*(create_conversation(host, port, token) for _ in range(streams)))
    cpu_before = cpu_seconds(pid)
    wall = time.monotonic()
    results = await asyncio.gather(*(stream(host, port, token, c, text, delay) for c in cids))
    wall = time.monotonic() - wall
    cpu = cpu_seconds(pid) - cpu_before
    return {
        "cpu": cpu,
        "wall": wall,
        "tokens": streams * words,
        "frames": sum(d for _, d, _ in results),
        "exact": sum(1 for _, _, got in results if got == text),
        "late": sorted(x for late, _, _ in results for x in late),  # type: ignore[dict-item]
    }


LIMITS_OFF = {
    # One user on one address opens every stream here: lift the per-user limits.
    "TOKENWIRE_MAX_STREAMS_PER_USER": "0",
    "TOKENWIRE_MAX_SOCKETS_PER_USER": "0",
    "TOKENWIRE_REQUESTS_PER_MINUTE_PER_USER": "0",
    "TOKENWIRE_REQUESTS_PER_MINUTE_PER_IP": "0",
}


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def in_steps(n: int, open_one: Callable[[], Awaitable[T]], step: int = 200) -> list[T]:
    """``n`` connections, ``step`` at a time, so the listen backlog holds them."""
    out: list[T] = []
    for i in range(0, n, step):
        out += await asyncio.gather(*(open_one() for _ in range(min(step, n - i))))
    return out


async def idle_sse(server: Server, n: int) -> int:
    """Server memory grown by ``n`` SSE streams waiting for a reply's next word."""
    host, port, token = "127.0.0.1", server.port, server.token
    cid = await create_conversation(host, port, token)
    body = json.dumps({"content": "first second"}).encode()
    reader, writer = await request(
        host,
        port,
        b"POST /api/v1/conversations/%s/messages?wait=false HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (cid.encode(), token.encode(), len(body), body),
    )
    mid = json.loads((await reader.read()).split(b"\r\n\r\n", 1)[1])["assistant_message"]["id"]
    writer.close()
    get = (
        f"GET /api/v1/messages/{mid}/events HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()

    async def one() -> asyncio.StreamWriter:
        r, w = await request(host, port, get)
        head = await r.readuntil(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n", 1)[0], head
        return w

    await asyncio.sleep(1)
    before = rss_bytes(server.proc.pid)
    writers = await in_steps(n, one)
    await asyncio.sleep(2)
    grown = rss_bytes(server.proc.pid) - before
    for w in writers:
        w.close()
    return grown


async def idle_ws(server: Server, n: int) -> int:
    """Server memory grown by ``n`` WebSockets open on a conversation, saying nothing."""
    host, port, token = "127.0.0.1", server.port, server.token
    cid = await create_conversation(host, port, token)
    path = f"/api/v1/conversations/{cid}/ws"

    async def one() -> asyncio.StreamWriter:
        _, w = await load.ws_open(host, port, path, token)
        return w

    await asyncio.sleep(1)
    before = rss_bytes(server.proc.pid)
    writers = await in_steps(n, one)
    await asyncio.sleep(2)
    grown = rss_bytes(server.proc.pid) - before
    for w in writers:
        w.close()
    return grown


async def idle(tmp: Path, n: int) -> None:
    results: dict[str, int] = {}
    for kind, hold in (("WebSocket", idle_ws), ("SSE", idle_sse)):
        # A fresh server each: memory freed by one kind would be reused by the next.
        env = {
            **LIMITS_OFF,
            "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "1",
            "TOKENWIRE_SCRIPTED_DELAY_MS": "3600000",
            "TOKENWIRE_LOG_LEVEL": "warning",
        }
        server = start_server(tmp / kind, env)
        try:
            results[kind] = await hold(server, n)
        finally:
            server.stop()
    for kind, grown in results.items():
        print(
            f"idle {kind:<9} {n} connections, server memory +{grown / 2**20:.1f} MiB, "
            f"{grown / n / 1024:.1f} KiB per connection"
        )


async def main(args: argparse.Namespace) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it too
    if args.idle + 100 > hard:
        sys.exit(f"--idle {args.idle} needs {args.idle + 100} file descriptors; {hard} allowed")
    with tempfile.TemporaryDirectory() as tmp:
        if args.streams:
            await relayed(Path(tmp), args)
        if args.idle:
            await idle(Path(tmp), args.idle)


async def relayed(tmp: Path, args: argparse.Namespace) -> None:
    short, long = 10, args.words + 10
    server = start_server(
        tmp / "streams",
        {
            **LIMITS_OFF,
            "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "1",
            "TOKENWIRE_SCRIPTED_DELAY_MS": str(args.delay_ms),
            # A word is a token of the scripted model: no reply may be cut by the cap.
            "TOKENWIRE_MAX_TOKENS": str(long),
        },
    )
    try:
        where = ("127.0.0.1", server.port, server.token, server.proc.pid)
        delay = args.delay_ms / 1000
        await phase(*where, min(args.streams, 50), short, delay)  # warm up
        a = await phase(*where, args.streams, short, delay)
        b = await phase(*where, args.streams, long, delay)
    finally:
        server.stop()
    # Replies of two lengths in one run: the difference isolates the per-token cost from
    # the per-reply cost (HTTP request, auth, the transactions of a turn).
    per_token = (b["cpu"] - a["cpu"]) / (b["tokens"] - a["tokens"])
    per_reply = (a["cpu"] - per_token * a["tokens"]) / args.streams
    late = b["late"]
    assert isinstance(late, list)
    print(f"streams               {args.streams} concurrent; one token every {args.delay_ms} ms")
    print(f"exact text            {a['exact'] + b['exact']:.0f}/{2 * args.streams}")
    print(
        f"{short:>3}-token replies     {a['tokens']:.0f} tokens, {a['cpu']:.2f} s server CPU, "
        f"{a['wall']:.2f} s wall"
    )
    print(
        f"{long:>3}-token replies     {b['tokens']:.0f} tokens in {b['frames']:.0f} frames, "
        f"{b['cpu']:.2f} s server CPU, {b['wall']:.2f} s wall"
    )
    print(f"server CPU per token  {per_token * 1e6:.1f} us (marginal, between the two lengths)")
    print(f"server CPU per reply  {per_reply * 1e3:.2f} ms (request, auth, stored turn)")
    print(
        f"added latency / token p50 {statistics.median(late) * 1e3:.2f} ms, "
        f"p99 {late[int(len(late) * 0.99)] * 1e3:.2f} ms, max {late[-1] * 1e3:.2f} ms "
        f"(arrival against the model's pacing, {long}-token replies)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--words", type=int, default=100, help="extra tokens of the long replies")
    parser.add_argument("--delay-ms", type=int, default=20)
    parser.add_argument("--idle", type=int, default=0, help="idle connections of each kind")
    asyncio.run(main(parser.parse_args()))
