"""Hostile input for fuzzing: frames and bodies that no route or socket may die of.

Every frame made here is one a socket must answer with exactly one error frame: not JSON,
JSON that is not an object, an unknown or missing ``type``, a known ``type`` with fields of
the wrong kind, or nesting far past any limit, anywhere in the document. None of them is a
valid frame of any dialect (so none starts a reply or cancels one silently).
"""

from __future__ import annotations

import json
import os
import random
import string
from collections.abc import Callable, Iterator
from typing import Any

SOAK_ENV = "TOKENWIRE_SOAK"


def soak() -> bool:
    """Whether the long mode is on (``TOKENWIRE_SOAK=1``): fuzzing and chaos run longer."""
    return os.environ.get(SOAK_ENV, "") not in ("", "0")


def nested(depth: int, rng: random.Random) -> str:
    """Arrays and objects nested ``depth`` deep, closed or (half the time) left open."""
    opener = rng.choice(["[", '{"k":', '[1,{"a":'])
    closer = {"[": "]", '{"k":': "}", '[1,{"a":': "}]"}[opener]
    closed = rng.random() < 0.5
    return opener * depth + ("0" + closer * depth if closed else "")


def _scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            False,
            rng.randint(-(2**63), 2**63),
            rng.random() * 1e300,
            "".join(rng.choices(string.printable, k=rng.randint(0, 40))),
            "\u0000\ud7ff\ue000\U0010ffff",
        ]
    )


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.5:
        return _scalar(rng)
    if roll < 0.75:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {
        "".join(rng.choices(string.ascii_letters, k=rng.randint(1, 8))): _value(rng, depth + 1)
        for _ in range(rng.randint(0, 4))
    }


def _not_a_string(rng: random.Random) -> Any:
    return rng.choice([None, 5, 1.5, True, [], {}, ["x"], {"text": "x"}])


def hostile_frames(
    known_types: list[str], typed_types: list[str], rng: random.Random
) -> Iterator[tuple[str, str | bytes]]:
    """Endless ``(kind, frame)`` pairs; a ``bytes`` frame goes out as a binary frame.

    ``known_types``: the dialect's frame types; ``typed_types``: those of them with a required
    ``content`` or ``message_id`` string (the rest accept any other field, so giving them a
    field of the wrong kind is no error)."""
    makers: list[Callable[[], tuple[str, str | bytes]]] = [
        lambda: ("deep", nested(rng.choice([65, 200, 999, 1000, 1001, 5000, 50_000]), rng)),
        lambda: (
            "deep-inside",
            f'{{"type":"{rng.choice(known_types)}","content":"x",'
            f'"x":{nested(rng.randint(65, 3000), rng)}}}',
        ),
        lambda: ("garbage", "".join(rng.choices(string.printable, k=rng.randint(1, 200)))),
        lambda: ("truncated", json.dumps({"type": rng.choice(known_types), "content": "x"})[:-1]),
        lambda: ("binary", os.urandom(rng.randint(1, 64))),
        lambda: ("not-object", json.dumps(rng.choice([[], [1, 2], "ping", 7, None, True]))),
        lambda: ("no-type", json.dumps({"content": "hello", "x": _value(rng)})),
        lambda: ("bad-type", json.dumps({"type": _not_a_string(rng), "content": "hello"})),
        lambda: (
            "unknown-type",
            json.dumps({"type": "".join(rng.choices(string.ascii_lowercase + ".", k=9))}),
        ),
        lambda: (
            "wrong-fields",
            json.dumps(
                {
                    "type": rng.choice(typed_types),
                    "content": _not_a_string(rng),
                    "message_id": _not_a_string(rng),
                }
            ),
        ),
        lambda: ("random-json", json.dumps({"type": "x" + str(rng.random()), "v": _value(rng)})),
        lambda: ("invalid-utf8-escape", '{"type":"ping","x":"\\ud800\\u00"}'),
    ]
    while True:
        yield rng.choice(makers)()


def hostile_bodies(rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Endless ``(kind, body)`` pairs for JSON routes."""
    makers: list[Callable[[], tuple[str, bytes]]] = [
        lambda: ("deep", nested(rng.choice([65, 999, 1000, 5000, 100_000]), rng).encode()),
        lambda: (
            "deep-inside",
            f'{{"content":"x","{rng.choice(["messages", "metadata", "unknown"])}":'.encode()
            + nested(rng.randint(65, 5000), rng).encode()
            + b"}",
        ),
        lambda: ("garbage", os.urandom(rng.randint(0, 300))),
        lambda: ("random-json", json.dumps(_value(rng)).encode()),
        lambda: (
            "wrong-fields",
            json.dumps(
                {
                    "content": _not_a_string(rng),
                    "messages": _not_a_string(rng),
                    "prompt": _not_a_string(rng),
                    "persona": _not_a_string(rng),
                }
            ).encode(),
        ),
        lambda: ("truncated", b'{"content":"hello'),
    ]
    while True:
        yield rng.choice(makers)()
