"""Reading an upstream alone: the CPU that ``OpenAIProvider.stream`` spends per token.

The relay's per-token figure is the sum of many parts and moves by tens of percent between
runs on a busy machine; this measures one of them on its own. A stamped mock upstream
(``benchmarks/upstream.py``, a real HTTP server) streams ``--streams`` replies at once, each
token in its own chunk at ``--tps``, and a process that only iterates the provider's
``stream()`` for each of them reports its CPU time per token. With two cores the reader is
pinned to core 0 and the upstream to core 1.

Each ``--src`` is read by its own processes, the sources alternating (A B B A ...) for
``--rounds`` rounds, and every figure is printed, then the medians side by side:

    python benchmarks/upstream_read.py
    python benchmarks/upstream_read.py --src /tmp/before/src --src src --rounds 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import upstream
from tests.helpers.server import free_port

ROOT = Path(__file__).resolve().parents[1]


async def read(port: int, streams: int, tokens: int, ramp_s: float) -> None:
    """The child: every reply through the provider, then its CPU per token on stdout."""
    from tokenwire.providers.base import ChatTurn, Delta, GenerationRequest
    from tokenwire.providers.openai import OpenAIProvider

    provider = OpenAIProvider(base_url=f"http://127.0.0.1:{port}/v1", model="bench")
    request = GenerationRequest([ChatTurn("user", str(tokens))])
    counted = 0

    async def one(i: int) -> None:
        nonlocal counted
        await asyncio.sleep(ramp_s * i / streams)
        async for item in provider.stream(request):
            if isinstance(item, Delta):
                counted += 1

    await one(0)  # the session, its connector and the imports' first calls
    counted = 0
    cpu = time.process_time()
    await asyncio.gather(*(one(i) for i in range(streams)))
    cpu = time.process_time() - cpu
    await provider.aclose()
    if counted != streams * tokens:
        raise SystemExit(f"read {counted} tokens of {streams * tokens}")
    print(json.dumps({"us_per_token": cpu / counted * 1e6}))


def run(args: argparse.Namespace, src: str, port: int, pinned: bool) -> float:
    env = {**os.environ, "PYTHONPATH": src}
    command = [sys.executable, __file__, "--child", "--port", str(port)]
    command += ["--streams", str(args.streams), "--tokens", str(args.tokens)]
    command += ["--ramp-s", str(args.ramp_s)]
    if pinned:
        command = ["taskset", "-c", "0", *command]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{src}: {out.stderr.strip() or out.stdout.strip()}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["us_per_token"])


def main(args: argparse.Namespace) -> None:
    sources = [str(Path(s).resolve()) for s in args.src] or [str(ROOT / "src")]
    pinned = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the children inherit it
    port = free_port()
    server = upstream.spawn(port, args.tps, ["taskset", "-c", "1"] if pinned else [])
    print(
        f"upstream read: {args.streams} streams of {args.tokens} tokens at {args.tps:g} tok/s; "
        + ("reader pinned to core 0, upstream to core 1" if pinned else "not pinned")
    )
    figures: dict[str, list[float]] = {src: [] for src in sources}
    try:
        for round_ in range(args.rounds):
            order = sources if round_ % 2 == 0 else sources[::-1]
            for src in order:
                figure = run(args, src, port, pinned)
                figures[src].append(figure)
                print(f"round {round_ + 1}: {src}: {figure:.1f} µs per token", flush=True)
    finally:
        server.terminate()
        server.wait()
    for src, values in figures.items():
        shown = ", ".join(f"{v:.1f}" for v in values)
        print(f"{src}: median {statistics.median(values):.1f} µs per token ({shown})")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--src", action="append", default=[], help="sources (repeatable)")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--tps", type=float, default=20.0)
    parser.add_argument("--ramp-s", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    parsed = parse()
    if parsed.child:
        import uvloop

        uvloop.run(read(parsed.port, parsed.streams, parsed.tokens, parsed.ramp_s))
    else:
        main(parsed)
