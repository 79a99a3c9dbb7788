"""Chaos tests run deployments like the scale-out tests do."""

from tests.scaleout.conftest import deployment

__all__ = ["deployment"]
