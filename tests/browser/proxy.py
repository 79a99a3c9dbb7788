"""A small TCP proxy for the browser tests: it stands between the page and the server the
way a corporate proxy or a load balancer would.

It forwards bytes both ways. With ``refuse_upgrades`` it answers every WebSocket upgrade
request with ``403 Forbidden`` (what a proxy that blocks WebSocket does), while plain HTTP,
SSE included, passes. ``cut_upgrades()`` closes the WebSocket tunnels it carries, as a
dropped network would.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time

_UPGRADE = re.compile(rb"(?im)^upgrade:[ \t]*websocket[ \t]*\r?$")
_FORBIDDEN = (
    b"HTTP/1.1 403 Forbidden\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 22\r\n"
    b"Connection: close\r\n\r\n"
    b"WebSocket not allowed\n"
)


class Proxy:
    def __init__(self, upstream_port: int, *, refuse_upgrades: bool = False) -> None:
        self.upstream_port = upstream_port
        self.refuse_upgrades = refuse_upgrades
        self.refused = 0  # upgrade requests answered with 403
        self.upgrades = 0  # upgrade requests passed to the server
        self._lock = threading.Lock()
        self._tunnels: list[tuple[socket.socket, socket.socket]] = []
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # so that the accept loop notices close() promptly
        self._closed = threading.Event()
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed
            client.settimeout(None)
            with self._lock:
                self._open.add(client)
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 1 << 20:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            upgrade = bool(_UPGRADE.search(head.split(b"\r\n\r\n", 1)[0]))
            if upgrade and self.refuse_upgrades:
                with self._lock:
                    self.refused += 1
                client.sendall(_FORBIDDEN)
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._open.add(upstream)
                if upgrade:
                    self.upgrades += 1
                    self._tunnels.append((client, upstream))
            upstream.sendall(head)
            back = threading.Thread(target=self._pipe, args=(upstream, client), daemon=True)
            back.start()
            self._pipe(client, upstream)
            back.join()
        except Exception:  # a browser that went away mid-request: nothing to report
            pass
        finally:
            self._close(client)
            if upstream is not None:
                self._close(upstream)

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except Exception:
            pass
        # One side is done: end both, so the other direction's recv returns too.
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        with contextlib.suppress(OSError):
            sock.close()

    def cut_upgrades(self) -> int:
        """Drop every WebSocket tunnel open now, without a closing handshake."""
        with self._lock:
            tunnels, self._tunnels = self._tunnels, []
        for pair in tunnels:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        return len(tunnels)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        # The handler threads close their sockets on the way out; wait for them to.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self._lock:
                if not self._open:
                    return
            time.sleep(0.02)
