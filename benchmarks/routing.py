"""What finding a request's route costs: FastAPI's matching, per request, in process.

FastAPI tries the app's routes in order (an included router is one entry, whose routes it
tries in turn) until one matches the request's path and method fully; each try costs a few
microseconds. This builds the app and times that search, as the router runs it, for the
requests of a reply and a few others, and prints the microseconds per request and which of
the app's entries answered.

    python benchmarks/routing.py                    # this checkout's sources
    python benchmarks/routing.py --src OTHER/src    # another version of the sources
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ID = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
REQUESTS = [
    ("http", "POST", f"/api/v1/conversations/{ID}/messages"),  # a turn
    ("http", "POST", "/v1/chat/completions"),  # an OpenAI chat
    ("websocket", "GET", f"/api/v1/conversations/{ID}/ws"),  # a canonical WebSocket
    ("http", "GET", f"/api/v1/messages/{ID}/events"),  # a reply resumed
    ("http", "POST", "/api/chat"),  # the AI SDK's stream
    ("http", "GET", f"/api/v1/conversations/{ID}"),  # a conversation read
    ("http", "GET", "/api/v1/conversations"),  # the list
    ("http", "GET", "/healthz"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", help="the sources to measure (default: this checkout's)")
    parser.add_argument("--rounds", type=int, default=20_000, help="per request")
    args = parser.parse_args()
    src = Path(args.src) if args.src else Path(__file__).resolve().parents[1] / "src"
    sys.path.insert(0, str(src))
    os.environ["TOKENWIRE_DATA_DIR"] = tempfile.mkdtemp(prefix="tokenwire-routing-")

    from starlette.routing import Match

    from tokenwire.api.app import create_app
    from tokenwire.settings import Settings

    app = create_app(Settings())
    routes = app.router.routes
    print(f"routing ({src}): {len(routes)} entries, {args.rounds} rounds per request")
    for kind, method, path in REQUESTS:
        scope = {
            "type": kind,
            "method": method,
            "path": path,
            "root_path": "",
            "headers": [],
            "query_string": b"",
            "app": app,
        }
        answered = None
        started = time.perf_counter()
        for _ in range(args.rounds):
            request = dict(scope)  # routing writes into the scope
            for index, route in enumerate(routes):
                match, _ = route.matches(request)
                if match is Match.FULL:
                    answered = index
                    break
        each = (time.perf_counter() - started) / args.rounds
        shown = f"{'WS' if kind == 'websocket' else method} {path.replace(ID, '{id}')}"
        print(f"  {shown:40} {each * 1e6:6.1f} µs  entry {answered}")


if __name__ == "__main__":
    main()
