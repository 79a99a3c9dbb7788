"""How long ``tokenwire serve`` takes to start: from the command to its first answer.

Each start is a fresh data dir (SQLite, migrated on the way, the scripted model), so it is
what a first start and every test server pays; with ``--restart``, the data dir an earlier
start of the same sources made (the database already migrated), as every later start.
Printed per version of the sources: the wall time until ``/healthz`` answers and the
server's CPU until then (``/proc``: user and system, every thread). With two cores the
server runs on core 0 and this script's polling on core 1 (``taskset``).

    python benchmarks/startup.py                         # this checkout, 10 starts
    python benchmarks/startup.py --src A/src --src B/src # versions alternately, A B B A ...
    python benchmarks/startup.py --restart               # on a data dir a start made before

Compare versions by running them alternately: each round runs them in turn, the order
reversed every other round.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_s(pid: int) -> float:
    """User and system time of the process so far (every thread)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def pinned(core: int) -> list[str]:
    return (
        ["taskset", "-c", str(core)]
        if (os.cpu_count() or 1) >= 2 and shutil.which("taskset")
        else []
    )


def start(src: str, data_dir: str | None = None) -> tuple[float, float]:
    """One start of the server running ``src``: (seconds to the first answer, CPU seconds).
    In ``data_dir`` when given, else in a fresh one."""
    port = free_port()
    with tempfile.TemporaryDirectory() as fresh:
        data = data_dir or fresh
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])]),
            "TOKENWIRE_DATA_DIR": data,
            "TOKENWIRE_PROVIDER": "scripted",
            "TOKENWIRE_TOKEN": "tw_startup_" + os.urandom(8).hex(),
        }
        command = [sys.executable, "-m", "tokenwire", "serve", "--port", str(port)]
        began = time.perf_counter()
        proc = subprocess.Popen(
            [*pinned(0), *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"the server running {src} exited ({proc.returncode})")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                        break
                except OSError:
                    time.sleep(0.005)
            return time.perf_counter() - began, cpu_s(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", action="append", help="sources to run (repeatable)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--restart", action="store_true", help="on a data dir used before")
    args = parser.parse_args()
    if pinned(1):
        os.sched_setaffinity(0, {1})
    sources = [str(Path(s).resolve()) for s in args.src or [ROOT / "src"]]
    kept = tempfile.TemporaryDirectory()
    dirs: dict[str, str | None] = {s: None for s in sources}
    for src in sources:  # warms the page cache and the bytecode caches too
        if args.restart:
            dirs[src] = tempfile.mkdtemp(dir=kept.name)
        start(src, dirs[src])
    walls: dict[str, list[float]] = {s: [] for s in sources}
    cpus: dict[str, list[float]] = {s: [] for s in sources}
    for round_ in range(args.rounds):
        for src in sources if round_ % 2 == 0 else sources[::-1]:
            wall, cpu = start(src, dirs[src])
            walls[src].append(wall)
            cpus[src].append(cpu)
    where = "the data dir of an earlier start" if args.restart else "a fresh data dir every time"
    print(f"{args.rounds} starts each, SQLite in {where}")
    print(f"{'sources':<40} {'to first answer (median, min–max)':>36} {'server CPU (median)':>20}")
    for src in sources:
        w, c = walls[src], cpus[src]
        shown = src if len(src) <= 40 else "…" + src[-39:]
        span = f"{statistics.median(w):.2f} s ({min(w):.2f}–{max(w):.2f})"
        print(f"{shown:<40} {span:>36} {statistics.median(c):>18.2f} s")
    kept.cleanup()


if __name__ == "__main__":
    main()
