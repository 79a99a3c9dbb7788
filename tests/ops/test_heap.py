"""``heap.settle``, in a process of its own: it freezes what that process holds and turns the
collector, off while the server started, on."""

from __future__ import annotations

import json
import subprocess
import sys

from tokenwire.ops import heap

PROBE = """
import gc, json
gc.disable()  # as ``tokenwire serve`` starts
import tokenwire.api.app  # a server's imports: objects that live as long as the process
from tokenwire.ops import heap

before = {
    "frozen": gc.get_freeze_count(),
    "threshold": gc.get_threshold(),
    "enabled": gc.isenabled(),
}
heap.settle()
young = gc.get_stats()[0]["collections"]
kept = [[] for _ in range(3 * heap.YOUNG_THRESHOLD)]  # allocations past the threshold
collected_by_itself = gc.get_stats()[0]["collections"] - young
del kept
garbage = [[] for _ in range(100)]
for pair in garbage:
    pair.append(pair)  # cycles made after the freeze: collected as before
del garbage, pair
freed = gc.collect()
print(json.dumps({
    "before": before,
    "frozen": gc.get_freeze_count(),
    "threshold": gc.get_threshold(),
    "tracked": len(gc.get_objects()),
    "freed": freed,
    "enabled": gc.isenabled(),
    "collected_by_itself": collected_by_itself,
}))
"""


def test_settle_freezes_the_startups_objects_and_turns_the_collector_on() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    seen = json.loads(out.stdout)
    assert seen["before"]["frozen"] == 0
    assert not seen["before"]["enabled"]
    assert seen["enabled"]
    assert seen["collected_by_itself"] >= 1
    assert seen["before"]["threshold"][0] == 700  # Python's default
    # Everything the imports made is frozen: a full collection no longer visits it.
    assert seen["frozen"] > 10_000
    assert seen["tracked"] < seen["frozen"] / 10
    assert seen["threshold"] == [heap.YOUNG_THRESHOLD, *seen["before"]["threshold"][1:]]
    assert seen["freed"] >= 100  # the cycles made afterwards
