"""The public API is curated: these names, and no others by accident."""

from __future__ import annotations

import tokenwire
import tokenwire.engine
import tokenwire.log
import tokenwire.store


def test_exports() -> None:
    assert tokenwire.__all__ == ["__version__"]
    assert sorted(tokenwire.engine.__all__) == ["Engine"]
    assert sorted(tokenwire.log.__all__) == ["EventLog", "LogMiss", "MemoryEventLog"]
    assert sorted(tokenwire.store.__all__) == [
        "Checkpoint",
        "Conversation",
        "Message",
        "MessageStatus",
        "Outcome",
        "Page",
        "SQLStore",
        "Turn",
        "User",
    ]
    for module in (tokenwire.engine, tokenwire.log, tokenwire.store):
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)
