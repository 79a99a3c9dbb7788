"""``tokenwire chat``: a terminal chat built on the client SDK.

Replies stream in as plain text and are drawn again as Markdown once complete; a status
line shows the connection state. Ctrl-C while a reply streams stops that reply (a second
one stops following it); Ctrl-C or Ctrl-D at the prompt leaves.

It runs the blocking ``Tokenwire`` client: the SDK's event loop lives on its own thread,
so the main thread can sit in ``input()`` and still receive Ctrl-C as ``KeyboardInterrupt``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tokenwire.client import (
    ClientError,
    ConnectionFailed,
    ConnectionState,
    ConnectionStatus,
    Message,
    NotFoundError,
    Reply,
    ReplyStatus,
    SyncReplyStream,
    Tokenwire,
)
from tokenwire.settings import Settings

HELP = """\
[bold]/new[/] [dim][TITLE][/]     start a new conversation
[bold]/list[/]             your conversations, newest first
[bold]/open[/] ID          continue a conversation (a unique start of its id will do)
[bold]/persona[/] [dim][NAME][/]  list personas, or give this conversation one
[bold]/help[/]             this help
Ctrl-C stops a streaming reply; Ctrl-C or Ctrl-D at the prompt leaves."""

_LABELS = {
    ConnectionStatus.CONNECTING: ("yellow", "connecting…"),
    ConnectionStatus.CONNECTED: ("green", "connected"),
    ConnectionStatus.RECONNECTING: ("yellow", "reconnecting…"),
    ConnectionStatus.DEGRADED_SSE: ("yellow", "degraded: SSE"),
    ConnectionStatus.DEGRADED_POLLING: ("yellow", "degraded: polling"),
    ConnectionStatus.OFFLINE: ("red", "offline"),
    ConnectionStatus.CLOSED: ("red", "closed"),
}


def local_server(settings: Settings) -> tuple[str, str | None]:
    """The URL and token of the server ``tokenwire serve`` runs here with these settings:
    its token is ``TOKENWIRE_TOKEN``, else the one it keeps in the data dir."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    token = settings.token
    path = Path(settings.data_dir) / "token"
    if token is None and path.is_file():
        token = path.read_text().strip()
    return f"http://{host}:{settings.port}", token


def status_text(state: ConnectionState) -> Text:
    colour, label = _LABELS[state.status]
    return Text.assemble(("● ", colour), (label, colour))


class _Streaming:
    """What the live display shows while a reply streams: the text so far, then a status
    line read afresh at every refresh, so a reconnect shows even while no text arrives."""

    def __init__(self, state: Callable[[], ConnectionState]) -> None:
        self._state = state
        self.reply: Reply | None = None
        self.note = "Ctrl-C stops the reply"

    def __rich__(self) -> RenderableType:
        text = Text(self.reply.text if self.reply else "")
        line = status_text(self._state())
        if self.reply is not None and self.reply.queue_position:
            line.append(f" · queued, {self.reply.queue_position} ahead", style="dim")
        line.append(f" · streaming · {self.note}", style="dim")
        return Group(text, line)


class Chat:
    def __init__(self, client: Tokenwire, console: Console, persona: str | None = None) -> None:
        self.client = client
        self.console = console
        self.persona = persona
        self.conversation_id: str | None = None
        self._streaming = False
        self._shown = client.status
        client.on_state_change(self._state_changed)

    # the loop ----------------------------------------------------------------------------

    def run(self, conversation: str | None) -> None:
        self.console.print(f"tokenwire chat on {self.client.base_url} · /help for commands")
        if conversation:
            self.open(conversation)
        else:
            self.new()
        while True:
            try:
                line = self.console.input(self.prompt())
            except (KeyboardInterrupt, EOFError):
                self.console.print("\nbye")
                return
            try:
                if line.startswith("/"):
                    self.command(line)
                elif line.strip():
                    self.ask(line)
            except ClientError as exc:
                self.console.print(f"[red]error:[/] {escape(exc.message)}")

    def prompt(self) -> str:
        colour, label = _LABELS[self.client.status]
        return f"[{colour}]●[/] [dim]{label}[/] [bold]you ›[/] "

    def _state_changed(self, state: ConnectionState) -> None:
        # Called on the client's thread. While a reply streams the live display shows the
        # state; at the prompt, say when the connection comes or goes.
        quiet = self._streaming or state.status is ConnectionStatus.CLOSED
        if quiet or state.status.is_live == self._shown.is_live:
            self._shown = state.status
            return
        self._shown = state.status
        self.console.print(Text.assemble("\n", status_text(state)))

    # commands ----------------------------------------------------------------------------

    def command(self, line: str) -> None:
        name, *args = shlex.split(line)
        if name == "/new":
            self.new(" ".join(args) or None)
        elif name == "/list":
            self.list()
        elif name == "/open" and len(args) == 1:
            self.open(args[0])
        elif name == "/persona":
            self.set_persona(args[0] if args else None)
        elif name in ("/help", "/?"):
            self.console.print(HELP)
        elif name in ("/quit", "/exit"):
            raise EOFError
        else:
            self.console.print(f"[red]unknown command[/] {escape(line)}; /help lists them")

    def new(self, title: str | None = None) -> None:
        conversation = self.client.create_conversation(title=title, persona=self.persona)
        self.conversation_id = conversation.id
        self.console.print(f"[dim]new conversation[/] {conversation.id}")

    def list(self) -> None:
        table = Table("id", "title", "persona", "updated", box=None, header_style="dim")
        for c in self.client.conversations(limit=20).items:
            mark = "[bold]›[/] " if c.id == self.conversation_id else "  "
            table.add_row(mark + c.id, escape(c.title or ""), c.persona or "", c.updated_at[:19])
        self.console.print(table)

    def open(self, ref: str) -> None:
        conversation_id = self._resolve(ref)
        history = self.client.history(conversation_id, limit=50)
        self.conversation_id = conversation_id
        self.console.print(f"[dim]conversation[/] {conversation_id}")
        for message in history.items:
            if message.role == "user":
                self.console.print(Text.assemble(("you › ", "bold"), message.content))
            elif message.status is ReplyStatus.STREAMING:
                self.follow(self.client.resume(message), message)
            else:
                self.console.print(Markdown(message.content))

    def _resolve(self, ref: str) -> str:
        """A full id, or the one conversation among the recent ones whose id starts so."""
        matches = [c.id for c in self.client.conversations(limit=200).items if c.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise NotFoundError(404, "ambiguous", f"{ref!r} starts {len(matches)} ids")
        return self.client.conversation(ref).id

    def set_persona(self, name: str | None) -> None:
        if name is None:
            for persona in self.client.personas():
                self.console.print(f"[bold]{persona.name}[/] {escape(persona.description)}")
            return
        self.persona = name
        if self.conversation_id is not None:
            self.client.update_conversation(self.conversation_id, persona=name)
        self.console.print(f"[dim]persona[/] {escape(name)}")

    # replies -----------------------------------------------------------------------------

    def ask(self, content: str) -> None:
        if self.conversation_id is None:
            self.new()
        assert self.conversation_id is not None
        self.follow(self.client.send(self.conversation_id, content))

    def follow(self, stream: SyncReplyStream, stored: Message | None = None) -> None:
        """Show a reply as it streams, then as Markdown. Ctrl-C cancels it; a second
        Ctrl-C stops following it (it goes on, or stops, on the server)."""
        view = _Streaming(lambda: self.client.state)
        reply: Reply | None = None
        cancelled = False
        self._streaming = True
        try:
            with Live(view, console=self.console, refresh_per_second=10) as live:
                while True:
                    try:
                        for reply in stream:
                            view.reply = reply
                            live.refresh()
                        break
                    except KeyboardInterrupt:
                        if cancelled or stream.message_id is None:
                            stream.close()
                            break
                        cancelled = True
                        view.note = "stopping…"
                        stream.cancel(wait=False)
                live.update(self._final(reply, stored), refresh=True)
        finally:
            self._streaming = False

    def _final(self, reply: Reply | None, stored: Message | None) -> RenderableType:
        if reply is None:
            return Text(stored.content if stored else "(not sent)", style="dim")
        parts: list[RenderableType] = [Markdown(reply.text)]
        if reply.status is ReplyStatus.CANCELLED:
            parts.append(Text("[cancelled]", style="yellow"))
        elif reply.status is ReplyStatus.STREAMING:
            parts.append(Text("[no longer following]", style="dim"))
        elif reply.error is not None:
            parts.append(Text(f"[{reply.error.code}: {reply.error.message}]", style="red"))
        return Group(*parts)


def run(
    url: str | None = None,
    token: str | None = None,
    conversation: str | None = None,
    persona: str | None = None,
) -> None:
    """The body of the ``tokenwire chat`` command."""
    console = Console(highlight=False)
    if url is None:
        url, local = local_server(Settings())
        token = token or local
    token = token or os.environ.get("TOKENWIRE_TOKEN")
    if not token:
        raise SystemExit("no token: pass --token, set TOKENWIRE_TOKEN, or run `tokenwire serve`")
    client = Tokenwire(url, token, keepalive=2.0)
    try:
        client.check()
        Chat(client, console, persona).run(conversation)
    except ConnectionFailed as exc:
        raise SystemExit(f"cannot reach {url}: {exc.message}") from None
    except ClientError as exc:  # at start-up: a bad token, conversation or persona
        raise SystemExit(f"tokenwire chat: {exc.message}") from None
    finally:
        client.close()
