"""Operations: metrics, structured logs, abuse limits, browser safety and readiness.

Attached to an app by ``Operations`` (``wiring.py``); the engine sees only its ``Hooks`` and
its admission (``Limiter.admit``). docs/operations.md is the operator's view of all of it.
"""

from tokenwire.ops.wiring import Operations

__all__ = ["Operations"]
