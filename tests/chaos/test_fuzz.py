"""Fuzzing every WebSocket dialect and every JSON route with hostile input.

Each socket gets at least 1,000 hostile frames (10,000 with ``TOKENWIRE_SOAK=1``): every one
must be answered by exactly one error frame in the dialect's shape, the socket must stay open
and keep answering pings, and the server must log no fault. Every JSON route gets hostile
bodies and must answer each with a 4xx, never a 5xx or a dropped connection.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.helpers.hostile import hostile_bodies, hostile_frames, soak
from tests.helpers.logs import faults
from tests.helpers.server import Server, start_server

FRAMES = 10_000 if soak() else 1_000
BODIES_PER_ROUTE = 1_000 if soak() else 60
PING_EVERY = 50


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server without request rate limits: the fuzzer is one very busy user."""
    srv = start_server(
        tmp_path_factory.mktemp("fuzz"),
        {
            "TOKENWIRE_REQUESTS_PER_MINUTE_PER_USER": "0",
            "TOKENWIRE_REQUESTS_PER_MINUTE_PER_IP": "0",
        },
    )
    yield srv
    srv.stop()


@dataclass(frozen=True)
class Dialect:
    name: str
    url: Callable[[Server], str]
    known: list[str]
    typed: list[str]  # frame types with a required string field
    greeting: int  # frames the server sends on connect
    is_error: Callable[[dict[str, Any]], bool]
    is_pong: Callable[[dict[str, Any]], bool]


def _conversation(server: Server) -> str:
    with server.client() as client:
        return str(client.post("/api/v1/conversations", json={}).json()["id"])


def _consultation(server: Server) -> str:
    with server.client() as client:
        response = client.post(
            "/api/v1/consultations",
            json={"persona": "general"},
            headers={"Prefer": "tokenwire-shape=bare"},  # the seed text's shape
        )
        body = response.json()
        return str(body["id"] if response.status_code == 201 else body["consultation_id"])


DIALECTS = [
    Dialect(
        "canonical",
        lambda s: f"{s.ws_url}/api/v1/conversations/{_conversation(s)}/ws?token={s.token}",
        ["message.send", "message.cancel", "stream.resume", "ping"],
        ["message.send", "message.cancel", "stream.resume"],
        0,
        lambda f: f["type"] == "error" and bool(f["error"]["code"]) and bool(f["error"]["message"]),
        lambda f: f == {"type": "pong"},
    ),
    Dialect(
        "consultation",
        lambda s: f"{s.ws_url}/api/v1/consultations/{_consultation(s)}/ws?token={s.token}",
        ["message", "ping", "cancel"],
        ["message"],
        1,
        lambda f: f["type"] == "error" and bool(f["error"]) and bool(f["code"]),
        lambda f: f["type"] == "pong",
    ),
    Dialect(
        "message_stream",
        lambda s: f"{s.ws_url}/ws/chat?token={s.token}",
        ["message", "stop", "ping"],
        ["message"],
        0,
        lambda f: f["type"] == "message" and f["sender"] == "system" and "error" in f["metadata"],
        lambda f: f == {"type": "pong"},
    ),
]


@dataclass
class Tally:
    answered: int = 0
    closed: list[str] | None = None
    silent: list[str] | None = None
    wrong: list[str] | None = None

    def add(self, field: str, what: str) -> None:
        found = getattr(self, field) or []
        found.append(what)
        setattr(self, field, found)


def _recv(ws: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(ws.recv(timeout=30)))


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_every_hostile_frame_gets_an_error_and_the_socket_lives(
    server: Server, dialect: Dialect
) -> None:
    rng = random.Random(f"fuzz-{dialect.name}")
    frames = hostile_frames(dialect.known, dialect.typed, rng)
    tally = Tally()
    kinds: dict[str, int] = {}

    def fuzz(ws: ClientConnection, n: int) -> int:
        """Send frames from the ``n``-th on; returns how far it got (the socket broke there)."""
        for _ in range(dialect.greeting):
            _recv(ws)
        while n < FRAMES:
            kind, frame = next(frames)
            kinds[kind] = kinds.get(kind, 0) + 1
            what = f"#{n} {kind}: {frame[:80]!r}"
            n += 1
            try:
                ws.send(frame)
                answer = _recv(ws)
                if dialect.is_error(answer):
                    tally.answered += 1
                else:
                    tally.add("wrong", f"{what} -> {answer}")
                if n % PING_EVERY == 0 or n == FRAMES:
                    ws.send('{"type":"ping"}')
                    pong = _recv(ws)
                    if not dialect.is_pong(pong):
                        tally.add("wrong", f"ping after {what} -> {pong}")
            except ConnectionClosed as exc:
                tally.add("closed", f"{what}: {exc}")
                return n
            except TimeoutError:
                tally.add("silent", what)
                return n
        return n

    sent = 0
    while sent < FRAMES:
        with connect(dialect.url(server), max_size=None) as ws:
            sent = fuzz(ws, sent)
    assert tally.closed is None, tally.closed[:5]
    assert tally.silent is None, tally.silent[:5]
    assert tally.wrong is None, tally.wrong[:5]
    assert tally.answered == FRAMES
    assert kinds["deep"] > FRAMES // 20  # the nesting cases were really sent
    assert faults(server.log()) == []


def _json_routes(server: Server) -> list[tuple[str, str]]:
    """Every route that takes a body, from the served OpenAPI schema, with real ids in it."""
    cid = _conversation(server)
    consultation = _consultation(server)
    routes = []
    with server.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method in operations:
            if method in ("post", "put", "patch"):
                concrete = (
                    path.replace("/consultations/{cid}", f"/consultations/{consultation}")
                    .replace("{cid}", cid)
                    .replace("{mid}", cid)
                    .replace("{session_id}", "fuzz-session")
                )
                routes.append((method.upper(), concrete))
    return routes


def test_every_json_route_answers_hostile_bodies_with_a_4xx(server: Server) -> None:
    routes = _json_routes(server)
    assert len(routes) >= 10
    rng = random.Random("fuzz-bodies")
    bodies = hostile_bodies(rng)
    failures = []
    with server.client(timeout=60) as client:
        for method, path in routes:
            for _ in range(BODIES_PER_ROUTE):
                kind, body = next(bodies)
                try:
                    response = client.request(
                        method, path, content=body, headers={"Content-Type": "application/json"}
                    )
                except httpx.HTTPError as exc:
                    failures.append(f"{method} {path} {kind}: {exc!r}")
                    continue
                if response.status_code >= 500:
                    failures.append(f"{method} {path} {kind}: {response.status_code}")
    assert failures == []
    assert faults(server.log()) == []
