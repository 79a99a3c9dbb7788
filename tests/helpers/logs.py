"""Reading a test server's log: its faults are what a test may not leave behind."""

from __future__ import annotations

import json


def faults(log: str) -> list[str]:
    """The lines of a server log that report a fault of the server: ERROR or CRITICAL, or any
    traceback. A client going away, a bad frame, an outage the server handles: none of these
    is a fault of the server, and none may appear here."""
    found = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            if "Traceback" in line or " error " in line or " critical " in line:
                found.append(line)
            continue
        if not isinstance(entry, dict):
            continue
        if entry.get("level") in ("error", "critical") or "exc" in entry:
            found.append(line)
    return found
