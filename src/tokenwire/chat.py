"""``tokenwire chat``: a terminal chat built on the client SDK.

Replies stream in as plain text and are drawn again as Markdown once complete; a status
line shows the connection state. Ctrl-C while a reply streams stops that reply (a second
one stops following it); while a command waits for the server it stops the command; Ctrl-C
or Ctrl-D at the prompt leaves.

It runs the blocking ``Tokenwire`` client: the SDK's event loop lives on its own thread
and the main thread draws. At the prompt, Ctrl-C is a key prompt_toolkit reads; elsewhere
it is a signal, taken by a handler that asks the client's thread to act and raises nothing
itself (see ``run`` and ``follow``).
The prompt is prompt_toolkit's: what other threads print while it waits (a reconnect)
goes above it and the prompt is drawn again below. While a reply streams, keys typed are
kept (``TypeAhead``), shown under the reply, and start the next prompt: nothing is echoed
into the reply as it is drawn.

A conversation is created when its first message is sent, not on start or ``/new``: a
chat opened and left makes nothing.
"""

from __future__ import annotations

import os
import shlex
import signal
from pathlib import Path
from types import FrameType

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.patch_stdout import patch_stdout
from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tokenwire import runfile
from tokenwire.chatview import StreamingView, final_view, prompt_text, status_text
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
from tokenwire.typeahead import TypeAhead

HELP = """\
[bold]/new[/] [dim][TITLE][/]     start a new conversation (made when you send its first message)
[bold]/list[/]             your conversations, newest first
[bold]/open[/] ID          continue a conversation (a unique start of its id will do)
[bold]/persona[/] [dim][NAME][/]  list personas, or give this conversation one
[bold]/regen[/]            a new version of the last reply (the old one is kept)
[bold]/edit[/] [dim][TEXT][/]      change your last message and resend it, on a branch of its own
[bold]/continue[/]         ask the model to go on with a reply cut off or stopped
[bold]/search[/] WORDS     search your messages and titles
[bold]/help[/]             this help
Ctrl-C stops a streaming reply or a command; Ctrl-C or Ctrl-D at the prompt leaves."""


def local_server(settings: Settings) -> tuple[str, str | None]:
    """The URL and token of the server ``tokenwire serve`` runs here with these settings:
    where it recorded that it listens (``runfile``), else the host and port of the settings;
    its token is ``TOKENWIRE_TOKEN``, else the one it keeps in the data dir."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    url = runfile.find(Path(settings.data_dir)) or f"http://{host}:{settings.port}"
    token = settings.token
    path = Path(settings.data_dir) / "token"
    if token is None and path.is_file():
        token = path.read_text().strip()
    return url, token


class Chat:
    def __init__(
        self,
        client: Tokenwire,
        console: Console,
        persona: str | None = None,
        session: PromptSession[str] | None = None,
    ) -> None:
        self.client = client
        self.console = console
        self.persona = persona
        self.session: PromptSession[str] = session or PromptSession()
        self.conversation_id: str | None = None
        self.title: str | None = None  # of the conversation the next send creates
        self.typed = ""  # typed while the last reply streamed: the next prompt starts with it
        self._streaming = False
        self._shown = client.status
        client.on_state_change(self._state_changed)

    # the loop ----------------------------------------------------------------------------

    def run(self, conversation: str | None) -> None:
        self.console.print(f"tokenwire chat on {self.client.base_url} · /help for commands")
        # Ctrl-C away from the prompt (which reads it as a key, with its own handler) stops
        # the call the chat waits for: ``interrupt`` makes that call raise
        # ``KeyboardInterrupt`` where it waits, never inside the console's drawing.
        previous = signal.signal(signal.SIGINT, lambda signum, frame: self.client.interrupt())
        try:
            self._start(conversation)
            self._loop()
        finally:
            signal.signal(signal.SIGINT, previous)

    def _start(self, conversation: str | None) -> None:
        if conversation:
            try:
                self.open(conversation)
                return
            except KeyboardInterrupt:
                self.console.print("[dim]interrupted[/]")
        self.new()

    def _loop(self) -> None:
        while True:
            try:
                with patch_stdout(raw=True):
                    line = self.session.prompt(self.prompt, default=self.typed)
            except (KeyboardInterrupt, EOFError):
                self.console.print("bye")
                return
            self.typed = ""
            try:
                if line.startswith("/"):
                    self.command(line)
                elif line.strip():
                    self.ask(line)
            except KeyboardInterrupt:  # a call interrupted, or Ctrl-C at /edit's prompt
                self.console.print("[dim]interrupted[/]")
            except ClientError as exc:
                self.console.print(f"[red]error:[/] {escape(exc.message)}")

    def prompt(self) -> FormattedText:
        """The prompt, read afresh at every redraw: it shows the connection as it is."""
        return prompt_text(self.client.status)

    def _state_changed(self, state: ConnectionState) -> None:
        # Called on the client's thread. While a reply streams the live display shows the
        # state; at the prompt, say when the connection comes or goes: the line goes above
        # the prompt (patch_stdout), which is drawn again with the new state.
        quiet = self._streaming or state.status is ConnectionStatus.CLOSED
        if quiet or state.status.is_live == self._shown.is_live:
            self._shown = state.status
            self._redraw()
            return
        self._shown = state.status
        self.console.print(status_text(state))
        self._redraw()

    def _redraw(self) -> None:
        app = self.session.app
        if app.is_running and app.loop is not None:
            app.loop.call_soon_threadsafe(app.invalidate)

    # commands ----------------------------------------------------------------------------

    def command(self, line: str) -> None:
        name, _, rest = line.strip().partition(" ")
        args = shlex.split(rest) if name in ("/open", "/persona") else rest.split()
        if name == "/new":
            self.new(" ".join(args) or None)
        elif name == "/list":
            self.list()
        elif name == "/open" and len(args) == 1:
            self.open(args[0])
        elif name == "/persona":
            self.set_persona(args[0] if args else None)
        elif name == "/regen":
            self.regenerate()
        elif name == "/edit":
            self.edit(rest.strip() or None)
        elif name == "/continue":
            self.continue_reply()
        elif name == "/search" and rest.strip():
            self.search(rest.strip())
        elif name in ("/help", "/?"):
            self.console.print(HELP)
        elif name in ("/quit", "/exit"):
            raise EOFError
        else:
            self.console.print(f"[red]unknown command[/] {escape(line)}; /help lists them")

    def new(self, title: str | None = None) -> None:
        """Start afresh; the conversation is made by the first message sent."""
        self.conversation_id = None
        self.title = title
        self.console.print("[dim]new conversation: it starts with your first message[/]")

    def list(self) -> None:
        table = Table(
            "id", "title", "persona", "updated", box=None, header_style="dim", expand=False
        )
        for c in self.client.conversations(limit=20).items:
            mark = "[bold]›[/] " if c.id == self.conversation_id else "  "
            table.add_row(mark + c.id, escape(c.title or ""), c.persona or "", c.updated_at[:19])
        if not table.rows:
            self.console.print("[dim]no conversations yet[/]")
            return
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

    # the message tree ------------------------------------------------------------------

    def _last(self, role: str) -> Message | None:
        """The newest message of ``role`` on the conversation's current branch."""
        if self.conversation_id is None:
            return None
        branch = self.client.history(self.conversation_id, limit=4).items
        return next((m for m in reversed(branch) if m.role == role), None)

    def regenerate(self) -> None:
        reply = self._last("assistant")
        if reply is None:
            self.console.print("[dim]no reply to regenerate yet[/]")
            return
        self.follow(self.client.regenerate(reply.id))
        self._show_versions()

    def edit(self, text: str | None) -> None:
        """Resend the last question changed: ``TEXT``, or what is typed at a prompt that
        starts with the old one."""
        question = self._last("user")
        if question is None or self.conversation_id is None:
            self.console.print("[dim]no message to edit yet[/]")
            return
        if text is None:
            with patch_stdout(raw=True):
                text = self.session.prompt(
                    FormattedText([("bold", "edit › ")]), default=question.content
                )
        if not text.strip():
            self.console.print("[dim]nothing sent[/]")
            return
        self.follow(self.client.edit(self.conversation_id, question.parent_id, text))
        self._show_versions()

    def continue_reply(self) -> None:
        reply = self._last("assistant")
        if reply is None:
            self.console.print("[dim]no reply to continue yet[/]")
            return
        self.follow(self.client.continue_reply(reply.id))

    def _show_versions(self) -> None:
        """After a regenerate or an edit: which version of the message is shown now."""
        reply = self._last("assistant")
        question = self._last("user")
        for message, what in ((question, "message"), (reply, "reply")):
            siblings = message.siblings if message is not None else None
            if siblings is not None and len(siblings.ids) > 1:
                shown = f"{what} ‹ {siblings.index + 1} / {len(siblings.ids)} ›"
                self.console.print(f"[dim]{shown}[/]")

    def search(self, query: str) -> None:
        hits = self.client.search(query, limit=20)
        if not hits:
            self.console.print(f"[dim]nothing found for[/] {escape(query)}")
            return
        table = Table("id", "title", "", "found", box=None, header_style="dim", expand=False)
        for hit in hits:
            who = "title" if hit.message_id is None else ("you" if hit.role == "user" else "reply")
            title = escape(hit.conversation_title or "")
            table.add_row(hit.conversation_id, title, who, escape(hit.snippet))
        self.console.print(table)
        self.console.print("[dim]/open ID opens one[/]")

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
            try:
                conversation = self.client.create_conversation(
                    title=self.title or _title_from(content), persona=self.persona
                )
            except KeyboardInterrupt:
                self.typed = content  # not sent: the next prompt offers it again
                raise
            self.conversation_id = conversation.id
            self.title = None
            self.console.print(f"[dim]conversation[/] {conversation.id}")
        self.follow(self.client.send(self.conversation_id, content))

    def follow(self, stream: SyncReplyStream, stored: Message | None = None) -> None:
        """Show a reply as it streams, then as Markdown. Ctrl-C cancels it; a second
        Ctrl-C stops following it (it goes on, or stops, on the server).

        Ctrl-C is taken by a signal handler while the reply streams, not raised as
        ``KeyboardInterrupt``: raised wherever the main thread happens to be, that can land
        inside rich's console between opening its output buffer and closing it, and from
        then on nothing the chat prints reaches the screen. The handler only hands the
        cancel (or the close) to the client's thread; the iteration sees its effect."""
        keys = TypeAhead()
        view = StreamingView(lambda: self.client.state, keys)
        reply: Reply | None = None
        presses = 0

        def interrupted(signum: int, frame: FrameType | None) -> None:
            nonlocal presses
            presses += 1
            if presses == 1:
                # The first cancels, even before the reply's first event: the send may
                # have reached the server, and the cancel waits for its id.
                view.note = "stopping…"
                stream.cancel(wait=False)
            elif presses == 2:
                stream.close(wait=False)

        self._streaming = True
        previous = signal.signal(signal.SIGINT, interrupted)
        try:
            with keys, Live(view, console=self.console, refresh_per_second=10) as live:
                for reply in stream:
                    view.reply = reply
                    live.refresh()
                live.update(final_view(reply, stored), refresh=True)
        finally:
            signal.signal(signal.SIGINT, previous)
            self._streaming = False
            self.typed = keys.text


def _title_from(content: str) -> str:
    """A conversation's title from its first message: the first line, at most 80 characters."""
    line = " ".join(content.strip().splitlines()[0].split()) if content.strip() else ""
    return line if len(line) <= 80 else line[:77].rstrip() + "…"


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
