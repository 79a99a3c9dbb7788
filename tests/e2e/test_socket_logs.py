"""A client going away, or refused at the handshake, is no fault of the server: the log says
so at INFO, with no traceback and nothing at ERROR."""

from __future__ import annotations

import json
import socket
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import ServerFactory
from tests.helpers.logs import faults

LONG = " ".join(f"word{i}" for i in range(400))


def test_cut_and_refused_sockets_log_no_fault(server_factory: ServerFactory) -> None:
    server = server_factory(scripted_delay_ms=5)
    with server.client() as client:
        cid = client.post("/api/v1/conversations", json={}).json()["id"]
    url = f"{server.ws_url}/api/v1/conversations/{cid}/ws?token={server.token}"
    cuts = 0
    for n in range(12):
        with connect(url) as ws:
            if n % 3 == 0:
                ws.send(json.dumps({"type": "message.send", "content": LONG}))
                json.loads(ws.recv(30))  # the reply is streaming to this socket now
            if n % 2 == 0:
                # No close frame: the TCP connection just ends, mid-reply for some.
                ws.socket.shutdown(socket.SHUT_RDWR)
                ws.socket.close()
            cuts += 1
    for refused in (
        f"{server.ws_url}/api/v1/conversations/{cid}/ws",  # no token
        f"{server.ws_url}/api/v1/conversations/{cid}/ws?token=wrong",
        f"{server.ws_url}/api/v1/conversations/0190a5e0-0000-7000-8000-000000000000/ws"
        f"?token={server.token}",
    ):
        with pytest.raises(InvalidStatus) as info:
            connect(refused).close()
        assert info.value.response.status_code in (401, 404)
    # Every socket's request line is written when its handler ends: wait for all of them.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
        ended = [e for e in lines if e.get("logger") == "tokenwire.http"]
        ended = [e for e in ended if e.get("transport") == "websocket"]
        if len(ended) >= cuts + 3:
            break
        time.sleep(0.2)
    assert len(ended) == cuts + 3
    assert all(e["level"] == "info" for e in ended)
    assert faults(server.log()) == []
