"""A streaming body handed to ``Traffic``: the layers inside it have returned before the body
runs, their headers are on the start, and what a layer holds for the connection is given back
only once the body has ended."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenwire.http import handoff
from tokenwire.ops.metrics import Metrics
from tokenwire.ops.security import SecurityHeaders
from tokenwire.ops.traffic import Traffic


class Layer:
    """A middleware that records when it returns, and gives something back then (as
    ``SocketLimits`` does with a socket's slot) after any body handed off below it."""

    def __init__(self, app: ASGIApp, record: list[str]) -> None:
        self.app = app
        self.record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        self.record.append("layer returned")
        if not handoff.then(scope, lambda: self.record.append("layer released")):
            self.record.append("layer released")


def streaming_app(record: list[str], chunks: int) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

        async def body(receive: Receive, send: Send) -> None:
            for i in range(chunks):
                record.append(f"chunk {i}")
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        if not handoff.hand_off(scope, body):
            await body(receive, send)

    return app


def http_scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/stream",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
    }


async def call(app: ASGIApp, scope: dict[str, Any]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        await asyncio.Event().wait()  # the client never goes: the body ends first
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_the_body_runs_after_the_inner_layers_returned_and_before_they_release() -> None:
    record: list[str] = []
    app = Traffic(SecurityHeaders(Layer(streaming_app(record, 2), record)), metrics=Metrics())
    sent = asyncio.run(call(app, http_scope()))
    assert record == ["layer returned", "chunk 0", "chunk 1", "layer released"]
    start = sent[0]
    assert start["type"] == "http.response.start"
    names = {name for name, _ in start["headers"]}
    assert {b"x-request-id", b"content-security-policy"} <= names  # every layer saw the start
    assert [m.get("body") for m in sent[1:]] == [b"x", b"x", b""]
    assert sent[-1]["more_body"] is False


def test_without_traffic_the_body_runs_where_it_is() -> None:
    record: list[str] = []
    sent = asyncio.run(call(Layer(streaming_app(record, 1), record), http_scope()))
    assert record == ["chunk 0", "layer returned", "layer released"]
    assert [m["type"] for m in sent] == [
        "http.response.start",
        "http.response.body",
        "http.response.body",
    ]


def test_the_scope_lets_go_of_closed_exit_stacks_once_a_body_is_handed_off() -> None:
    seen: list[bool] = []

    def app_with_stack(inner: ASGIApp) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            async with AsyncExitStack() as stack:
                scope["framework_stack"] = stack
                await inner(scope, receive, send)

        return app

    scope = http_scope()

    async def body(receive: Receive, send: Send) -> None:
        seen.append("framework_stack" in scope)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        assert handoff.hand_off(scope, body)

    asyncio.run(call(Traffic(app_with_stack(route), metrics=Metrics()), scope))
    assert seen == [False]
