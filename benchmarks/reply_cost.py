"""What one reply costs the engine and the store, without HTTP: server CPU per reply.

The relay benchmark (``relay.py``) splits a phase's CPU into per-token and per-reply shares,
which moves with everything else on the machine. This one runs ``Engine.start_turn`` to the
end of its run, replies one after another (a scripted model writing three tokens, the
in-process event log, SQLite in a temporary directory), and prints the process's CPU (both
its threads: the event loop and SQLite's) per reply, for

- a reply in an existing, titled conversation, named by id;
- a reply that makes its conversation from a client's history (as every new OpenAI chat
  does), which the model then titles;
- a reply at the end of a conversation 100 turns long (each answer 100 words, with the
  per-delta marks a streamed reply stores), each measured reply a new branch from its last
  answer, so that every prompt reads the same 200 messages;

and what reading that conversation's branch costs, as its page shows it.

    python benchmarks/reply_cost.py                    # 300 replies of each kind
    python benchmarks/reply_cost.py --src OTHER/src    # another version of the sources

Compare versions by running them alternately, several times: only the side-by-side
difference means anything on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(replies: int, warm_up: int) -> list[tuple[str, float]]:
    from tokenwire.engine import Engine
    from tokenwire.engine.config import EngineConfig
    from tokenwire.log.memory import MemoryEventLog
    from tokenwire.protocol.options import ByHistory, ById, TurnOptions
    from tokenwire.providers.scripted import ScriptedProvider
    from tokenwire.settings import Settings
    from tokenwire.store import SQLStore
    from tokenwire.store.records import MessageStatus, Outcome

    data = Path(tempfile.mkdtemp(prefix="tokenwire-reply-cost-"))
    store = SQLStore(f"sqlite+aiosqlite:///{data}/tokenwire.db")
    await store.migrate()
    provider = ScriptedProvider(text="one two three", chunk_words=1, delay_ms=0)
    config = EngineConfig.from_settings(Settings(data_dir=data))
    engine = Engine(config=config, store=store, events=MemoryEventLog(), provider=provider)
    await engine.start()
    user, _ = await store.create_user("bench")
    titled = [await store.create_conversation(user.id, title="bench") for _ in range(20)]
    long = await store.create_conversation(user.id, title="long")
    words = [f" word{i}" for i in range(100)]
    answer = "".join(words)
    marks = [(seq, len("".join(words[:seq]))) for seq in range(1, len(words) + 1)]
    for i in range(100):
        turn = await store.add_turn(user.id, long.id, content=f"question {i}")
        ended = Outcome(MessageStatus.COMPLETE, answer, marks, last_seq=len(words) + 1)
        await store.end_reply(turn.assistant_message.id, ended)
    after_long = TurnOptions(parent_id=turn.assistant_message.id)

    async def reply(ref: Any, options: TurnOptions) -> None:
        turn = await engine.start_turn(user.id, ref, "hello", options)
        run = engine.runs.get(turn.assistant_message.id)
        if run is not None and run.task is not None:
            await asyncio.shield(run.task)
        # A new conversation's title is part of what its first reply costs.
        while engine._background:
            await asyncio.gather(*list(engine._background))

    plain = TurnOptions()
    kinds: list[tuple[str, Callable[[int], tuple[Any, TurnOptions]]]] = [
        ("existing conversation, by id", lambda i: (ById(titled[i % len(titled)].id), plain)),
        ("new conversation from history, titled", lambda i: (ByHistory("openai", (), None), plain)),
        ("after 100 turns of 100 words, by id", lambda i: (ById(long.id), after_long)),
    ]
    figures = []
    for name, ref in kinds:
        for i in range(warm_up):
            await reply(*ref(i))
        start = cpu_seconds()
        for i in range(replies):
            await reply(*ref(i))
        figures.append((name, (cpu_seconds() - start) / replies))
    # What showing that conversation costs (``GET .../branch`` without HTTP): its first 100
    # turns and every measured reply's, at the leaf the last one left.
    start = cpu_seconds()
    for _ in range(replies // 10):
        _, shown = await store.branch(user.id, long.id)
    figures.append(
        (f"reading that branch ({len(shown)} messages)", (cpu_seconds() - start) / (replies // 10))
    )
    await engine.shutdown()
    await store.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=300, help="replies of each kind")
    parser.add_argument("--warm-up", type=int, default=50, help="replies before measuring")
    parser.add_argument("--src", help="the sources to measure (default: this checkout's)")
    args = parser.parse_args()
    src = Path(args.src) if args.src else Path(__file__).resolve().parents[1] / "src"
    sys.path.insert(0, str(src))
    logging.disable(logging.WARNING)
    figures = asyncio.run(measure(args.replies, args.warm_up))
    print(f"reply cost ({src}), {args.replies} replies each, CPU per reply:")
    for name, seconds in figures:
        print(f"  {name}: {seconds * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
