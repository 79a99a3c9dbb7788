"""Server CPU per API request, through HTTP: what the HTTP side and a reply cost, one by one.

The relay benchmark splits the CPU of hundreds of concurrent replies into per-token and
per-reply shares, and that split moves by milliseconds from run to run. Here one client
sends requests one after another on a kept-alive connection to ``tokenwire serve`` (the
scripted model, three one-word chunks with no delay, SQLite, the in-process log), and the
server's CPU (``/proc``: user and system, every thread) is divided by the requests, for

- ``GET /api/v1/conversations/{id}``: authentication, routing, one read;
- ``POST /api/v1/conversations/{id}/messages`` waiting for the reply as JSON: a whole turn,
  each in a titled conversation of its own made beforehand (a conversation's history grows
  with every turn, and the turn reads it);
- the same turn with ``Accept: text/event-stream``: the reply streamed over SSE, the path a
  relayed reply takes (no wait for the stored end, no sibling read for the answer);
- the same turn over a canonical WebSocket opened for it and closed after its end, as the
  relay benchmark's WebSocket streams do (no compression, as there);
- ``POST /v1/chat/completions`` with ``stream: true``: a new OpenAI chat each time (its
  conversation made from the history, no title asked for: the reply is short).

With two cores the server runs on core 0 and this client on core 1 (``taskset``).

    python benchmarks/request_cost.py                       # 300 requests of each kind
    python benchmarks/request_cost.py --src OTHER/src       # another version of the sources
    python benchmarks/request_cost.py --only turn --profile /tmp/turn.txt   # under py-spy

Compare versions by running them alternately, several times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay import cpu_seconds
from tests.helpers.server import Server, start_server

ROOT = Path(__file__).resolve().parents[1]


def kinds(
    client: httpx.Client, server: Server, cids: list[str]
) -> dict[str, Callable[[int], None]]:
    """Each kind's request by its number; the three turn kinds take a conversation each, from
    their third of ``cids``."""
    third = len(cids) // 3

    def read(i: int) -> None:
        client.get(f"/api/v1/conversations/{cids[0]}").raise_for_status()

    def turn(i: int) -> None:
        answer = client.post(f"/api/v1/conversations/{cids[i]}/messages", json={"content": "hi"})
        answer.raise_for_status()
        assert answer.json()["assistant_message"]["status"] == "complete"

    def streamed_turn(i: int) -> None:
        sent = {"content": "hi"}
        headers = {"accept": "text/event-stream"}
        url = f"/api/v1/conversations/{cids[third + i]}/messages"
        with client.stream("POST", url, json=sent, headers=headers) as answer:
            answer.raise_for_status()
            assert b"event: message.end" in answer.read()

    def socket_turn(i: int) -> None:
        url = f"{server.ws_url}/api/v1/conversations/{cids[2 * third + i]}/ws"
        with connect(url, additional_headers=server.headers(), compression=None) as socket:
            socket.send(json.dumps({"type": "message.send", "content": "hi"}))
            while (kind := json.loads(socket.recv())["type"]) != "message.end":
                assert kind not in ("message.error", "error"), kind

    def openai_chat(i: int) -> None:
        body = {
            "model": "scripted",
            "stream": True,
            "messages": [{"role": "user", "content": f"question {i} {os.urandom(4).hex()}"}],
        }
        with client.stream("POST", "/v1/chat/completions", json=body) as answer:
            answer.raise_for_status()
            assert answer.read().rstrip().endswith(b"data: [DONE]")

    return {
        "read a conversation": read,
        "a turn (JSON)": turn,
        "a turn (SSE)": streamed_turn,
        "a turn (WebSocket)": socket_turn,
        "a new OpenAI chat": openai_chat,
    }


def profiled(pid: int, path: str | None, native: bool) -> subprocess.Popen[bytes] | None:
    """py-spy (from the dev extras, next to the interpreter) recording ``pid`` at 1 kHz."""
    if path is None:
        return None
    spy = str(Path(sys.executable).with_name("py-spy"))
    # C frames (uvloop, SQLite, the kernel's calls) need the process paused per sample.
    mode = "--native" if native else "--nonblocking"
    command = [spy, "record", mode, "-r", "1000", "-f", "raw", "-o", path]
    process = subprocess.Popen([*command, "--pid", str(pid)])
    time.sleep(1.0)  # attached
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="of each kind")
    parser.add_argument("--src", help="the sources the server runs; default: this checkout's")
    parser.add_argument("--only", help="run only the kinds whose name contains this")
    parser.add_argument("--profile", help="attach py-spy to the server, raw stacks to this file")
    parser.add_argument("--native", action="store_true", help="the profile with C frames too")
    args = parser.parse_args()
    src = str(Path(args.src).resolve() if args.src else ROOT / "src")
    os.environ["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])])
    pinned = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    if pinned:
        os.sched_setaffinity(0, {1})
    env = {
        "TOKENWIRE_SCRIPTED_DELAY_MS": "0",
        "TOKENWIRE_SCRIPTED_TEXT": "one two three",
        "TOKENWIRE_SCRIPTED_CHUNK_WORDS": "1",
        "TOKENWIRE_REQUESTS_PER_MINUTE_PER_USER": "0",
        "TOKENWIRE_REQUESTS_PER_MINUTE_PER_IP": "0",
        "TOKENWIRE_LOG_LEVEL": "warning",
    }
    with tempfile.TemporaryDirectory(prefix="tokenwire-request-cost-") as tmp:
        server = start_server(Path(tmp), env, prefix=["taskset", "-c", "0"] if pinned else [])
        try:
            with server.client(timeout=60) as client:
                warm_up = max(20, args.requests // 10)
                cids = [
                    client.post("/api/v1/conversations", json={"title": "bench"}).json()["id"]
                    for _ in range(3 * (warm_up + args.requests))
                ]
                print(
                    f"server CPU per request, {args.requests} of each kind one after another"
                    f" ({src}; server pinned: {pinned})"
                )
                for name, request in kinds(client, server, cids).items():
                    if args.only and args.only not in name:
                        continue
                    for i in range(warm_up):
                        request(i)
                    spy = profiled(server.proc.pid, args.profile, args.native)
                    before = cpu_seconds(server.proc.pid)
                    for i in range(warm_up, warm_up + args.requests):
                        request(i)
                    spent = cpu_seconds(server.proc.pid) - before
                    if spy is not None:
                        spy.send_signal(signal.SIGINT)  # py-spy writes what it has
                        spy.wait(60)
                    print(f"  {name:22} {spent / args.requests * 1e3:6.2f} ms")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
