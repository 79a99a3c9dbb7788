"""How ``tokenwire chat`` draws: the prompt, the connection's state, a reply as it streams
and once it has ended."""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.formatted_text import FormattedText
from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.text import Text

from tokenwire.client import ConnectionState, ConnectionStatus, Message, Reply, ReplyStatus
from tokenwire.typeahead import TypeAhead

__all__ = ["StreamingView", "final_view", "prompt_text", "status_text"]

_PROMPT_COLOURS = {"green": "ansigreen", "yellow": "ansiyellow", "red": "ansired"}

_LABELS = {
    ConnectionStatus.CONNECTING: ("yellow", "connecting…"),
    ConnectionStatus.CONNECTED: ("green", "connected"),
    ConnectionStatus.RECONNECTING: ("yellow", "reconnecting…"),
    ConnectionStatus.DEGRADED_SSE: ("yellow", "degraded: SSE"),
    ConnectionStatus.DEGRADED_POLLING: ("yellow", "degraded: polling"),
    ConnectionStatus.OFFLINE: ("red", "offline"),
    ConnectionStatus.CLOSED: ("red", "closed"),
}


def prompt_text(status: ConnectionStatus) -> FormattedText:
    """The prompt, with the connection's state in front."""
    colour, label = _LABELS[status]
    return FormattedText(
        [
            (f"fg:{_PROMPT_COLOURS[colour]}", "● "),
            ("fg:ansibrightblack", f"{label} "),
            ("bold", "you › "),
        ]
    )


def status_text(state: ConnectionState) -> Text:
    colour, label = _LABELS[state.status]
    return Text.assemble(("● ", colour), (label, colour))


class StreamingView:
    """What the live display shows while a reply streams: the text so far, then a status
    line read afresh at every refresh, so a reconnect shows even while no text arrives."""

    def __init__(self, state: Callable[[], ConnectionState], keys: TypeAhead) -> None:
        self._state = state
        self._keys = keys
        self.reply: Reply | None = None
        self.note = "Ctrl-C stops the reply"

    def __rich__(self) -> RenderableType:
        text = Text(self.reply.text if self.reply else "")
        line = status_text(self._state())
        if self.reply is not None and self.reply.queue_position:
            line.append(f" · queued, {self.reply.queue_position} ahead", style="dim")
        line.append(f" · streaming · {self.note}", style="dim")
        if not self._keys.text:
            return Group(text, line)
        typed = Text.assemble(("you › ", "bold"), self._keys.text, ("▏", "dim"))
        return Group(text, line, typed)


def final_view(reply: Reply | None, stored: Message | None) -> RenderableType:
    """A reply once it stops streaming: its text as Markdown, and how it ended."""
    if reply is None:
        # Left by a second Ctrl-C before the send was answered: it may yet be on the server.
        return Text(stored.content if stored else "(no longer following)", style="dim")
    parts: list[RenderableType] = [Markdown(reply.text)]
    if reply.status is ReplyStatus.CANCELLED:
        parts.append(Text("[cancelled]", style="yellow"))
    elif reply.finish_reason == "length":
        parts.append(Text("[cut off at the length limit: /continue goes on]", style="yellow"))
    elif reply.status is ReplyStatus.STREAMING:
        parts.append(Text("[no longer following]", style="dim"))
    elif reply.error is not None:
        parts.append(Text(f"[{reply.error.code}: {reply.error.message}]", style="red"))
    return Group(*parts)
