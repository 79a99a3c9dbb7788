"""Reconnection delays: exponential backoff with full jitter.

The policy is a parameter of the client, as in the websockets library's ``connect()``: any
callable returning an iterator of delays in seconds will do. The iterator is started afresh
whenever a connection makes progress, and when it runs out the client gives up.

Full jitter (each delay drawn uniformly between 0 and the exponential cap) keeps a crowd of
clients cut at the same moment from coming back at the same moment.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

BackoffPolicy = Callable[[], Iterator[float]]


@dataclass(frozen=True)
class Backoff:
    """``Backoff()()`` yields delays ``uniform(0, min(max_delay, initial * factor**n))``.

    ``first_delay`` is used as is for the first retry (a cut connection is most often back
    at once); ``max_attempts=None`` retries forever; ``rng`` makes runs reproducible.
    """

    initial: float = 0.5
    factor: float = 2.0
    max_delay: float = 30.0
    first_delay: float = 0.05
    max_attempts: int | None = None
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __call__(self) -> Iterator[float]:
        attempts = itertools.count() if self.max_attempts is None else range(self.max_attempts)
        for n in attempts:
            if n == 0:
                yield self.first_delay
                continue
            cap = min(self.max_delay, self.initial * self.factor ** (n - 1))
            yield self.rng.uniform(0, cap)
