"""The chat page as a user drives it, and what the tests read back from it."""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Dialog, Page

from tests.helpers.server import Server

FINAL = frozenset({"complete", "cancelled", "error", "interrupted"})

_READ = """(id) => {
  const el = document.querySelector(`article[data-message-id="${id}"]`);
  if (!el) return null;
  const typing = el.querySelector(".typing");
  return {
    status: el.dataset.status || "",
    text: el.querySelector(".msg-body").textContent,
    typing: Boolean(typing && !typing.hidden && typing.offsetParent !== null),
  };
}"""


@dataclass
class Sample:
    status: str
    text: str
    typing: bool = False


@dataclass
class ChatPage:
    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    @classmethod
    def open(
        cls,
        context: BrowserContext,
        base_url: str,
        token: str,
        conversation: str | None = None,
    ) -> ChatPage:
        """Open the page as the login link does: ``/?token=...`` (plus a conversation)."""
        chat = cls(context.new_page())
        fragment = f"#/c/{conversation}" if conversation else ""
        chat.page.goto(f"{base_url}/?token={token}{fragment}")
        chat.page.wait_for_selector("#shell:not([hidden])")
        return chat

    def wait_connected(self, transport: str = "ws", timeout: float = 60) -> None:
        # Generous: on a loaded machine a page's first connection, or its reconnect after
        # a backoff of up to 8 s, can take many seconds.
        self.page.wait_for_selector(
            f'#badge[data-state="connected"][data-transport="{transport}"]',
            timeout=timeout * 1000,
        )

    def send(self, text: str) -> None:
        self.page.fill("#input", text)
        self.page.press("#input", "Enter")

    def reply_ids(self) -> list[str]:
        ids: list[str] = self.page.eval_on_selector_all(
            "article.assistant", "els => els.map(e => e.dataset.messageId)"
        )
        return ids

    def new_reply(self, before: list[str], timeout: float = 10) -> str:
        """The id of the first reply that was not in ``before``, once it is on the page."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fresh = [i for i in self.reply_ids() if i not in before]
            if fresh:
                return fresh[0]
            time.sleep(0.02)
        raise AssertionError("no new reply appeared on the page")

    def read(self, message_id: str) -> Sample | None:
        got: dict[str, Any] | None = self.page.evaluate(_READ, message_id)
        return Sample(got["status"], got["text"], got["typing"]) if got else None

    def watch(
        self,
        message_id: str,
        until: frozenset[str] = FINAL,
        timeout: float = 20,
        each: Callable[[Sample], None] | None = None,
    ) -> list[Sample]:
        """Read the reply every few tens of milliseconds until its status is in ``until``;
        ``each`` sees every reading as it is taken."""
        samples: list[Sample] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sample = self.read(message_id)
            if sample is not None:
                samples.append(sample)
                if each is not None:
                    each(sample)
                if sample.status in until:
                    return samples
            time.sleep(0.03)
        raise AssertionError(f"reply {message_id} did not reach {sorted(until)}: {samples[-1:]}")

    def wait_length(self, message_id: str, at_least: int, timeout: float = 10) -> None:
        """Wait until the reply shows more than ``at_least`` characters."""
        self.page.wait_for_function(
            "([id, n]) => (document.querySelector(`[data-message-id='${id}'] .msg-body`)"
            "?.textContent.length ?? 0) > n",
            arg=[message_id, at_least],
            timeout=timeout * 1000,
        )

    def wait_text(self, message_id: str, expected: str, timeout: float = 10) -> str:
        """Wait until the reply shows ``expected`` (the reveal may lag the stream a few frames);
        returns what it shows in the end, so that a mismatch fails with both texts."""
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            sample = self.read(message_id)
            shown = sample.text if sample else ""
            if shown == expected:
                break
            time.sleep(0.03)
        return shown


def stored(server: Server, message_id: str) -> dict[str, Any]:
    with server.client() as client:
        response = client.get(f"/api/v1/messages/{message_id}")
        response.raise_for_status()
        message: dict[str, Any] = response.json()
    return message


def new_conversation(server: Server, title: str | None = None) -> str:
    with server.client() as client:
        response = client.post("/api/v1/conversations", json={"title": title})
        response.raise_for_status()
        return str(response.json()["id"])


def words(n: int, prefix: str = "w") -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def png(width: int, height: int) -> bytes:
    """A real PNG of random pixels: it does not compress, so its size is about w*h*3."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"  # scripts/vendor.sh
_AXE_RUN = """() => axe.run(document, { resultTypes: ["violations"] }).then((result) =>
  result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                   nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) })))"""


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """What axe-core finds serious or critical on the page as it is now. The script goes in
    through the DevTools protocol, which the page's CSP does not govern, so the page is
    checked under its real policy."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text() + "\n;undefined")
    found: list[dict[str, Any]] = page.evaluate(_AXE_RUN)
    return found
