"""The blocking client, and where ``tokenwire chat`` finds a local server by default."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from signal import SIGCONT, SIGSTOP

import pytest

from tests.helpers.server import Server
from tokenwire.chat import local_server
from tokenwire.client import ConnectionStatus, ReplyStatus, Tokenwire
from tokenwire.settings import Settings

LONG = " ".join(f"w{i}" for i in range(200))


def test_blocking_client_streams_and_cancels(fast_server: Server) -> None:
    with Tokenwire(fast_server.url, fast_server.token) as client:
        conversation = client.create_conversation(title="blocking")
        deltas = [reply.delta for reply in client.send(conversation.id, "blocking hello")]
        assert "".join(deltas) == "blocking hello"
        assert client.status is ConnectionStatus.CONNECTED

        stream = client.send(conversation.id, LONG)
        first = next(stream)
        stream.cancel()
        replies = [first, *stream]
        assert replies[-1].status is ReplyStatus.CANCELLED
        stored = client.message(replies[-1].message_id)
        assert "".join(r.delta for r in replies) == stored.content
        assert [m.role for m in client.history(conversation.id).items] == ["user", "assistant"] * 2
    assert client.status is ConnectionStatus.CLOSED


def test_an_interrupted_call_raises_where_it_waits_and_stops_on_the_client_loop(
    fast_server: Server,
) -> None:
    # The server is stopped (SIGSTOP), so the read waits for ever unless interrupted. An
    # interrupt before the call waits is a no-op, so the other thread repeats it until the
    # call has raised.
    async def reads_left() -> int:
        return sum(
            getattr(task.get_coro(), "__qualname__", "") == "AsyncTokenwire.history"
            for task in asyncio.all_tasks()
        )

    with Tokenwire(fast_server.url, fast_server.token) as client:
        conversation = client.create_conversation(title="interrupted")
        raised = threading.Event()

        def press() -> None:
            while not raised.wait(0.05):
                client.interrupt()

        presser = threading.Thread(target=press)
        fast_server.proc.send_signal(SIGSTOP)
        try:
            presser.start()
            with pytest.raises(KeyboardInterrupt):
                client.history(conversation.id)
            raised.set()
            # Gone from the client's loop too, while the server still does not answer: not
            # left waiting for it behind the caller's back.
            deadline = time.monotonic() + 60
            while (left := client._runner.run(reads_left())) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert left == 0
        finally:
            raised.set()
            presser.join()
            fast_server.proc.send_signal(SIGCONT)
        # and the client goes on as before
        assert client.history(conversation.id).items == []


def test_the_local_server_is_the_one_serve_runs_here(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("tw_local\n")
    settings = Settings(data_dir=tmp_path, host="0.0.0.0", port=8123, token=None)
    assert local_server(settings) == ("http://127.0.0.1:8123", "tw_local")
    settings = Settings(data_dir=tmp_path / "none", host="127.0.0.2", port=8000, token="tw_env")
    assert local_server(settings) == ("http://127.0.0.2:8000", "tw_env")
