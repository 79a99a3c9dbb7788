"""Relaying a real upstream: what tokenwire adds to an OpenAI-compatible model server.

Starts a stamped mock upstream (``benchmarks/upstream.py``: a real HTTP server, 20 tokens/s
per reply) and ``tokenwire serve`` with ``TOKENWIRE_PROVIDER=openai`` pointed at it, abuse
limits off. With two cores or more the server is pinned to core 0 and the upstream and this
load client to core 1 (``taskset``). Then, in one run, for each number of streams: the same
client reads the upstream directly, then through tokenwire over each path, and prints

- server CPU per relayed token and per reply (two reply lengths: the difference between
  them is the per-token cost, the rest the per-reply cost);
- added lag p50 / p99: each token's arrival minus the upstream's stamp, against the same
  percentile of the direct run;
- TTFT p50 (direct, then through tokenwire), stalls (tokens later than 250 ms) and failures
  (errors, and texts not whole and in order).

    python benchmarks/relay.py                                # the full table
    python benchmarks/relay.py --streams 100 --paths sse      # one quick cell
    python benchmarks/relay.py --mode lengths                 # per-token cost, 100 vs 2,000 tokens
    python benchmarks/relay.py --mode fanout                  # one reply, 1,000 subscribers
    python benchmarks/relay.py --profile /tmp/relay.txt       # the server under py-spy
    python benchmarks/relay.py --gc                           # and the collector's pauses

With ``--gc`` each row is followed by the garbage collector's work in the server during its
long phase (``benchmarks/gcprobe``): collections of each generation, their total and their
longest pause.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fanout
import load
import upstream
from load import Result
from tests.helpers.server import Server, free_port, start_server

ROOT = Path(__file__).resolve().parents[1]
PATHS = ("sse", "ws", "openai")
SHORT = 10  # tokens of the short replies: CPU per reply, by difference with the long ones


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


class Bench:
    """The upstream, the server, and how to run a phase of streams against them."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        pinned = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
        self.server_cpus = ["taskset", "-c", "0"] if pinned else []
        client_cpus = ["taskset", "-c", "1"] if pinned else []
        if pinned:
            os.sched_setaffinity(0, {1})  # this load client
        self.pinned = pinned
        upstream_port = free_port()
        self.upstream = upstream.spawn(upstream_port, args.tps, client_cpus)
        self.upstream_port = upstream_port
        prefix = list(self.server_cpus)
        if args.profile:
            # py-spy comes with the project's dev extras, next to the interpreter.
            spy = [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                # C frames (uvloop, the interpreter) need the process paused per sample.
                *(["--native"] if args.native else ["--nonblocking"]),
                "-r",
                "100",
                "-f",
                "raw",
                "-o",
            ]
            prefix = [*spy, args.profile, "--", *self.server_cpus]
        self.server: Server = start_server(
            tmp,
            {
                "TOKENWIRE_PROVIDER": "openai",
                "TOKENWIRE_MODEL": "bench",  # the model the load client names
                "TOKENWIRE_OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
                "TOKENWIRE_MAX_STREAMS_PER_USER": "0",
                "TOKENWIRE_MAX_SOCKETS_PER_USER": "0",
                "TOKENWIRE_REQUESTS_PER_MINUTE_PER_USER": "0",
                "TOKENWIRE_REQUESTS_PER_MINUTE_PER_IP": "0",
                "TOKENWIRE_LOG_LEVEL": "warning",
            },
            prefix=prefix,
        )
        self.pid = self._server_pid()
        self.system_share = 0.0  # of the last phase's server CPU
        self.window = (0.0, 0.0)  # the last phase's wall-clock start and end

    def collections(self) -> str:
        """The collector's work in the server during the last phase (``--gc``)."""
        if not self.args.gc:
            return ""
        since, until = self.window
        pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        for line in Path(self.args.gc_file).read_text().splitlines():
            if line.startswith("#"):
                continue
            at, generation, took, _freed = line.split()
            if since <= float(at) <= until:
                pauses[int(generation)].append(float(took) * 1e3)
        return "  collector: " + ", ".join(
            f"{name} {len(p)}: {sum(p):.0f} ms (longest {max(p, default=0):.0f})"
            for name, p in zip(("young", "middle", "full"), pauses.values(), strict=True)
        )

    def _server_pid(self) -> int:
        """The Python process of the server (under py-spy, its child)."""
        pid = self.server.proc.pid
        if not self.args.profile:
            return pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return int(children[0])

    def close(self) -> None:
        if self.args.profile:
            os.kill(self.pid, signal.SIGTERM)  # py-spy writes its profile once the server exits
            self.server.proc.wait(60)
        self.server.stop()
        self.upstream.terminate()
        self.upstream.wait()

    async def conversations(self, n: int) -> list[str]:
        s = self.server
        out: list[str] = []
        for i in range(0, n, 100):
            batch = min(100, n - i)
            out += await asyncio.gather(
                *(load.create_conversation("127.0.0.1", s.port, s.token) for _ in range(batch))
            )
        return out

    def reply(self, path: str, tokens: int) -> Callable[[str, Result], Awaitable[None]]:
        s, host = self.server, "127.0.0.1"
        if path == "direct":
            return lambda _cid, r: load.openai_reply(
                host, self.upstream_port, "/v1/chat/completions", tokens, None, r
            )
        if path == "openai":
            return lambda _cid, r: load.openai_reply(
                host, s.port, "/v1/chat/completions", tokens, s.token, r
            )
        if path == "sse":
            return lambda cid, r: load.sse_reply(host, s.port, cid, tokens, s.token, r)
        return lambda cid, r: load.ws_reply(host, s.port, cid, tokens, s.token, r)

    async def phase(self, path: str, n: int, tokens: int) -> tuple[float, list[Result]]:
        """``n`` replies of ``tokens`` tokens, started evenly over the ramp; server CPU and
        each reply's record."""
        cids = await self.conversations(n) if path in ("sse", "ws") else [""] * n
        run = self.reply(path, tokens)
        results = [Result() for _ in range(n)]
        ramp = self.args.ramp_s
        timeout = ramp + tokens / self.args.tps + 60

        async def one(i: int) -> None:
            await asyncio.sleep(ramp * i / n)
            try:
                await asyncio.wait_for(run(cids[i], results[i]), timeout)
            except (TimeoutError, Exception) as exc:
                results[i].failure = results[i].failure or f"{type(exc).__name__}: {exc}"
            if results[i].failure is None and results[i].tokens != tokens:
                results[i].failure = f"{results[i].tokens} of {tokens} tokens"

        await asyncio.sleep(1.5)  # let the last phase's checkpoints and ends settle
        user, system = cpu_times(self.pid)
        started = time.time()
        await asyncio.gather(*(one(i) for i in range(n)))
        self.window = (started, time.time())
        user_after, system_after = cpu_times(self.pid)
        self.system_share = (system_after - system) / max(
            1e-9, user_after - user + system_after - system
        )
        return user_after - user + system_after - system, results


def summary(results: list[Result]) -> dict[str, float]:
    lags = [lag for r in results for lag in r.lags]
    ttfts = [r.ttft for r in results if r.ttft is not None]
    return {
        "p50": pct(lags, 0.5),
        "p99": pct(lags, 0.99),
        "ttft": pct(ttfts, 0.5),
        "stalls": sum(r.stalls for r in results),
        "failed": sum(1 for r in results if r.failure),
        "tokens": sum(r.tokens for r in results),
    }


def failures(results: list[Result]) -> str:
    reasons: dict[str, int] = {}
    for r in results:
        if r.failure:
            reasons[r.failure[:80]] = reasons.get(r.failure[:80], 0) + 1
    return "; ".join(f"{k} ×{v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])


async def table(bench: Bench) -> None:
    args = bench.args
    long = args.tokens
    print(
        f"relay: upstream {args.tps:g} tok/s, {long}-token replies (and {SHORT} for the per-reply"
        f" cost), ramp {args.ramp_s:g} s; server "
        + ("pinned to core 0, upstream and client to core 1" if bench.pinned else "not pinned")
    )
    print(
        "| streams | path | CPU/token | CPU/reply | added lag p50 / p99 | TTFT p50 direct / relayed"
        " | stalls direct / relayed | failed |"
    )
    print("| ---: | --- | ---: | ---: | --- | --- | --- | ---: |")
    for n in args.streams:
        _, direct_results = await bench.phase("direct", n, long)
        direct = summary(direct_results)
        for path in args.paths:
            cpu_a, short_results = await bench.phase(path, n, SHORT)
            cpu_b, long_results = await bench.phase(path, n, long)
            kernel = bench.system_share
            a, b = summary(short_results), summary(long_results)
            per_token = (cpu_b - cpu_a) / max(1.0, b["tokens"] - a["tokens"])
            per_reply = (cpu_a - per_token * a["tokens"]) / n
            failed = int(a["failed"] + b["failed"] + direct["failed"])
            p50, p99 = (b["p50"] - direct["p50"]) * 1e3, (b["p99"] - direct["p99"]) * 1e3
            print(
                f"| {n:,} | {path} | {per_token * 1e6:.0f} µs | {per_reply * 1e3:.2f} ms "
                f"| {p50:.1f} / {p99:.1f} ms "
                f"| {direct['ttft'] * 1e3:.0f} / {b['ttft'] * 1e3:.0f} ms "
                f"| {direct['stalls']:.0f} / {b['stalls']:.0f} | {failed} |",
                flush=True,
            )
            print(f"  kernel (system) share of the server's CPU: {kernel:.0%}", flush=True)
            if args.gc:
                print(bench.collections(), flush=True)
            why = failures(direct_results + short_results + long_results)
            if why:
                print(f"  failures: {why}", flush=True)


async def lengths(bench: Bench) -> None:
    """Per-token CPU of 100- and 2,000-token replies, each by difference with short ones."""
    args = bench.args
    n = args.streams[0]
    print(f"per-token cost by reply length: {n} streams over {args.paths[0]}, {args.tps:g} tok/s")
    cpu_s, short = await bench.phase(args.paths[0], n, SHORT)
    base = summary(short)
    for tokens in (100, 2000):
        cpu, results = await bench.phase(args.paths[0], n, tokens)
        s = summary(results)
        per_token = (cpu - cpu_s) / max(1.0, s["tokens"] - base["tokens"])
        print(
            f"{tokens:>5}-token replies: {per_token * 1e6:.0f} µs per token, added lag p99 "
            f"{s['p99'] * 1e3:.1f} ms (absolute), failed {s['failed']:.0f}",
            flush=True,
        )


async def main(args: argparse.Namespace) -> None:
    # The server runs this checkout's sources (or --src), whatever the environment installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [args.src, *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the children inherit it
    with tempfile.TemporaryDirectory() as tmp:
        if args.gc:
            # The server loads benchmarks/gcprobe/sitecustomize.py, which writes to this file.
            args.gc_file = str(Path(args.data_dir or tmp) / "collections.txt")
            os.environ["PYTHONPATH"] += os.pathsep + str(Path(__file__).parent / "gcprobe")
            os.environ["TOKENWIRE_BENCH_GC"] = args.gc_file
        bench = Bench(args, Path(args.data_dir or tmp))
        try:
            await bench.phase(args.paths[0], min(20, args.streams[0]), SHORT)  # warm up
            if args.mode == "table":
                await table(bench)
            elif args.mode == "lengths":
                await lengths(bench)
            else:
                await fanout.run(bench, args)
        finally:
            bench.close()


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--mode", choices=("table", "lengths", "fanout"), default="table")
    parser.add_argument(
        "--streams", type=int, nargs="+", default=None, help="default: 100 500 1000"
    )
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--tokens", type=int, default=100, help="tokens per reply")
    parser.add_argument("--tps", type=float, default=20.0, help="upstream tokens/s per reply")
    parser.add_argument("--ramp-s", type=float, default=1.0, help="streams start over this")
    parser.add_argument("--subscribers", type=int, default=1000, help="fan-out mode")
    parser.add_argument("--stalled", type=float, default=0.1, help="fan-out: share never reading")
    parser.add_argument("--src", help="the sources the server runs; default: this checkout's")
    parser.add_argument("--data-dir", help="the server's (kept, with its log); default: temporary")
    parser.add_argument("--profile", help="record the server with py-spy (raw, for flamegraphs)")
    parser.add_argument("--native", action="store_true", help="the profile with C frames too")
    parser.add_argument("--gc", action="store_true", help="time the server's collections too")
    args = parser.parse_args(argv)
    args.src = str(Path(args.src).resolve() if args.src else ROOT / "src")
    if args.streams is None:
        args.streams = [100] if args.mode == "lengths" else [100, 500, 1000]
    return args


if __name__ == "__main__":
    try:
        import uvloop

        runner: Callable[..., object] = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(main(parse()))
