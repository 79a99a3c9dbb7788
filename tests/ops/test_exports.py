"""The ops package is attached through one name."""

from __future__ import annotations

import tokenwire.ops


def test_exports() -> None:
    assert tokenwire.ops.__all__ == ["Operations"]
    assert hasattr(tokenwire.ops, "Operations")
