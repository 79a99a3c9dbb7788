"""The engine: send, cancel and follow replies. It has no HTTP in it."""

from tokenwire.engine.engine import Engine

__all__ = ["Engine"]
