"""Real servers for tests: ``tokenwire serve`` in a subprocess on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec

from tokenwire.protocol.sse import SSEDecoder

# Ports for the servers tests start, below the kernel's ephemeral range (32768 and up on
# Linux), which the clients' own sockets take. The suite runs in several processes
# (pytest-xdist): a port the kernel picked for one of them is free until its server binds it,
# a second or so later, and another process could be handed the same port meanwhile, then
# find the first one's server answering on it. Each process draws from a block of its own.
_PORT_BLOCK = 1000
_PORT_BASE = 20000
_PORT_BLOCKS = (32768 - _PORT_BASE) // _PORT_BLOCK  # 12 blocks, every one below 32768


def _port_block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... under xdist
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = _PORT_BASE + (index % _PORT_BLOCKS) * _PORT_BLOCK
    return range(start, start + _PORT_BLOCK)


_ports = _port_block()
# Started at a random place, so that two runs side by side rarely meet.
_next_port = int.from_bytes(os.urandom(2), "big") % _PORT_BLOCK


def free_port() -> int:
    """A port nothing listens on now, from this process's own block."""
    global _next_port
    for _ in range(_PORT_BLOCK):
        port = _ports[_next_port % _PORT_BLOCK]
        _next_port += 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:  # in use, or in TIME_WAIT: the next one
                continue
            return port
    raise RuntimeError(f"no free port in {_ports.start}-{_ports.stop - 1}")


@dataclass
class Server:
    url: str
    port: int
    token: str
    data_dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    extra_tokens: dict[str, str] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}", **extra}

    def client(self, token: str | None = None, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(token), timeout=timeout)

    def create_user(self, name: str) -> str:
        """A new user's token, made with the CLI as an operator would."""
        out = subprocess.run(
            [sys.executable, "-m", "tokenwire", "users", "create", name],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip().splitlines()[-1]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def has_unread_request(self) -> bool:
        """Bytes wait unread on one of the server's connections: with the server stopped
        (SIGSTOP), a request sent to it is there, and stays."""
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as rows:
                next(rows)
                for row in rows:
                    local, _, state, queues = row.split()[1:5]
                    ours = state == "01" and int(local.rsplit(":", 1)[1], 16) == self.port
                    if ours and int(queues.split(":")[1], 16) > 0:  # established, unread
                        return True
        return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_server(
    data_dir: Path,
    env: dict[str, str] | None = None,
    *,
    port: int | None = None,
    prefix: Sequence[str] = (),
    args: Sequence[str] = (),
) -> Server:
    """``tokenwire serve`` with ``env`` and the command-line ``args`` (``--cors``, say);
    ``prefix``: a command the server runs under (``taskset -c 0``, a profiler)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    token = (env or {}).get("TOKENWIRE_TOKEN") or "tw_test_" + os.urandom(8).hex()
    full_env = {
        **os.environ,
        "TOKENWIRE_DATA_DIR": str(data_dir),
        "TOKENWIRE_PROVIDER": "scripted",
        "TOKENWIRE_TOKEN": token,
        "TOKENWIRE_SCRIPTED_DELAY_MS": "20",
        **(env or {}),
    }
    log_path = data_dir / f"server-{port}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                *prefix,
                sys.executable,
                "-m",
                "tokenwire",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *args,
            ],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", port, token, data_dir, full_env, proc, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"server did not come up:\n{server.log()}")


def send_streaming(
    client: httpx.Client, cid: str, content: str
) -> AbstractContextManager[httpx.Response]:
    """Send ``content`` to conversation ``cid`` asking for the reply as SSE; the response
    streams it (read it with ``sse_events``)."""
    return client.stream(
        "POST",
        f"/api/v1/conversations/{cid}/messages",
        json={"content": content},
        headers={"Accept": "text/event-stream"},
    )


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Canonical events from an SSE response, as dicts, in order."""
    decoder = SSEDecoder()
    for chunk in response.iter_raw():
        for event in decoder.feed(chunk):
            yield msgspec.json.decode(event.data)


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["text"] for e in events if e["type"] == "message.delta")
