"""The garbage collector of a serving process, set once the server listens.

What the imports and the app's startup made lives as long as the process: about 220,000
objects tracked by the collector. A full collection visits every one of them with the event
loop stopped (50-150 ms on a slow core), each time the replies in flight have made enough
new long-lived objects, and replies' tokens wait behind it: the bursts of lag a relay's p99
showed. Frozen, they are never visited again.

Every token makes short-lived containers (its event, the ASGI messages, coroutines). With
the default first threshold, 700, the youngest generation is collected hundreds of times a
second under load, and each collection visits whatever is in flight at that moment; most
of it would have been freed by its reference count a little later. A larger threshold makes
a tenth of the collections, each finding about as much alive, and pushes full collections
of what is left as rarely. Only reference cycles wait longer to be freed.

While the server starts, the collector is off (the commands that serve turn it off before
their imports, which this module's package would be part of): the imports make those
objects in bursts, and collecting them as they are made visits the ones made before again
and again, about a tenth of a start's CPU, for next to nothing. ``settle`` freezes them
without a collection first: of the 220,000 objects a server holds then, about 2,800 (1 %) are
garbage, and finding them is a full collection, a third of a second on a slow core. They
stay, frozen: a few hundred KB at most.

``docs/performance.md`` (the seventh round, and "Starting") has the measurements.
"""

from __future__ import annotations

import gc

# Net allocations of tracked objects before the youngest generation is collected (Python's
# default: 700); the older generations keep their defaults (every 10 collections of the one
# below).
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Freeze what the process holds, and collect the young less often from now on."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.enable()
