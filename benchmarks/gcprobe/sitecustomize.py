"""The collector's pauses in a server started by ``relay.py --gc``.

Python imports ``sitecustomize`` at start-up from its path; ``relay.py --gc`` puts this
folder there and names a file in ``TOKENWIRE_BENCH_GC``. Every collection is then written
to that file as it ends: its wall-clock time, generation, duration in seconds and what it
freed. One line per collection (tens in a run) costs nothing measurable; the write comes
after the collection is timed.

``TOKENWIRE_BENCH_GC_TYPES=1`` also writes, as lines starting with ``#``, what the middle
and oldest generations held when each of their collections started (the forty commonest
types, coroutines and functions by name) and what each collection found to be garbage (the
collector then keeps it in ``gc.garbage`` until the collection is timed, and frees it
after). That walk is slow: it is for finding out what a pause visits, not for timing one.
With ``relay.py --data-dir`` the file stays there as ``collections.txt``.
"""

from __future__ import annotations

import collections
import gc
import os
import time

_path = os.environ.get("TOKENWIRE_BENCH_GC")

if _path:
    _fd = os.open(_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    _types = os.environ.get("TOKENWIRE_BENCH_GC_TYPES") == "1"
    _started = 0.0

    def _name(o: object) -> str:
        """A coroutine or a function by its code's name, anything else by its type's."""
        kind = type(o).__qualname__
        if kind in ("coroutine", "function", "async_generator"):
            return f"{kind}:{getattr(o, '__qualname__', '?')}"
        if kind == "method":
            return f"method:{getattr(o, '__qualname__', '?')}"
        return kind

    def _probe(phase: str, info: dict[str, int]) -> None:
        global _started
        generation = info["generation"]
        if phase == "start":
            if _types and generation >= 1:
                counts = collections.Counter(
                    _name(o) for g in range(generation + 1) for o in gc.get_objects(g)
                )
                top = " ".join(f"{name}={n}" for name, n in counts.most_common(40))
                os.write(_fd, f"# gen{generation} {sum(counts.values())} objects: {top}\n".encode())
            _started = time.perf_counter()
            return
        took = time.perf_counter() - _started
        if _types and gc.garbage:
            kinds = collections.Counter(_name(o) for o in gc.garbage)
            os.write(_fd, f"# freed: {dict(kinds.most_common(10))}\n".encode())
            gc.garbage.clear()
        line = f"{time.time():.6f} {generation} {took:.6f} {info['collected']}\n"
        os.write(_fd, line.encode())

    gc.callbacks.append(_probe)
    if _types:
        gc.set_debug(gc.DEBUG_SAVEALL)
