"""Server-Sent Events framing (WHATWG HTML, "Server-sent events", section 9.2).

``encode`` frames one event; ``SSEDecoder`` parses a byte stream back into events where raw
bytes are at hand (the gateway, which forwards them, and tests). ``HEADERS`` are those of
every SSE response tokenwire sends. All pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

CONTENT_TYPE = "text/event-stream; charset=utf-8"

HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "cache-control": "no-cache",
        "x-accel-buffering": "no",  # nginx: pass each event through as it comes
        "connection": "keep-alive",
    }
)


def response_headers(extra: Mapping[str, str] | None = None) -> list[tuple[bytes, bytes]]:
    """The ASGI headers of an SSE response: its content type, ``HEADERS``, then ``extra``
    (which may override one of ``HEADERS``)."""
    merged = {"content-type": CONTENT_TYPE, **HEADERS, **(extra or {})}
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in merged.items()]


def encode(data: bytes, *, event: str | None = None, id: str | int | None = None) -> bytes:
    """Frame ``data`` as one SSE event. A newline inside ``data`` starts a new ``data:`` line,
    which the receiver joins back with ``\\n`` (the spec's rule for multi-line data)."""
    parts: list[bytes] = []
    if id is not None:
        parts.append(b"id: %s\n" % str(id).encode())
    if event is not None:
        parts.append(b"event: %s\n" % event.encode())
    for line in data.split(b"\n"):
        parts.append(b"data: %s\n" % line)
    parts.append(b"\n")
    return b"".join(parts)


def comment(text: str = "") -> bytes:
    """A comment line: ignored by every receiver, it keeps proxies from closing an idle stream."""
    return b": %s\n\n" % text.encode() if text else b":\n\n"


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental SSE parser: feed it bytes as they arrive, get back complete events.

    Follows the spec's line rules: CR, LF and CRLF all end a line; a line starting with a
    colon is a comment; a field without a colon has an empty value; one leading space after
    the colon is dropped; an empty line dispatches the event.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self.last_event_id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        self._buffer += chunk
        events: list[ServerSentEvent] = []
        if b"\r" not in self._buffer:
            # The common case, LF only: every line but the unfinished last one at once.
            *lines, self._buffer = self._buffer.split(b"\n")
            for line in lines:
                event = self._process(line)
                if event is not None:
                    events.append(event)
            return events
        while True:
            line, found = self._next_line()
            if not found:
                break
            event = self._process(line)
            if event is not None:
                events.append(event)
        return events

    def _next_line(self) -> tuple[bytes, bool]:
        buf = self._buffer
        lf = buf.find(b"\n")
        cr = buf.find(b"\r")
        if lf == -1 and cr == -1:
            return b"", False
        if cr == -1 or (lf != -1 and lf < cr):
            self._buffer = buf[lf + 1 :]
            return buf[:lf], True
        if cr + 1 == len(buf):
            return b"", False  # wait: the LF of a CRLF may come in the next chunk
        skip = 2 if buf[cr + 1] == 0x0A else 1
        self._buffer = buf[cr + skip :]
        return buf[:cr], True

    def _process(self, raw: bytes) -> ServerSentEvent | None:
        line = raw.decode("utf-8")
        if not line:
            if not self._data and not self._event:
                return None
            event = ServerSentEvent(
                data="\n".join(self._data),
                event=self._event or "message",
                id=self._id,
                retry=self._retry,
            )
            self._data, self._event, self._retry = [], "", None
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id = value
                self.last_event_id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None
