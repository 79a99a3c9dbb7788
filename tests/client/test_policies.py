"""Backoff delays, the transport ladder and the connection state machine, without I/O."""

from __future__ import annotations

import random

import pytest

from tokenwire.client import Backoff, ConnectionFailed, ConnectionStatus, TransportKind
from tokenwire.client.ladder import TransportLadder
from tokenwire.client.state import ConnectionState, StatusBoard

WS, SSE, POLLING = TransportKind.WEBSOCKET, TransportKind.SSE, TransportKind.POLLING


def test_backoff_is_exponential_with_full_jitter() -> None:
    policy = Backoff(initial=1.0, factor=2.0, max_delay=8.0, first_delay=0.1, max_attempts=7)
    delays = list(policy())
    assert len(delays) == 7
    assert delays[0] == 0.1
    caps = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(0 <= d <= cap for d, cap in zip(delays[1:], caps, strict=True))


def test_backoff_draws_spread_and_are_reproducible() -> None:
    draws = list(Backoff(initial=1.0, max_delay=1.0, max_attempts=200, rng=random.Random(7))())
    again = list(Backoff(initial=1.0, max_delay=1.0, max_attempts=200, rng=random.Random(7))())
    assert draws == again
    assert min(draws[1:]) < 0.1
    assert max(draws[1:]) > 0.9


def test_backoff_forever_by_default() -> None:
    delays = Backoff()()
    assert len([next(delays) for _ in range(1000)]) == 1000


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ladder_steps_down_when_refused_and_climbs_back_later() -> None:
    clock = Clock()
    ladder = TransportLadder(climb_after=10, clock=clock)
    assert ladder.current() is WS
    ladder.refused(WS)
    assert ladder.current() is SSE
    ladder.refused(SSE)
    assert ladder.current() is POLLING
    ladder.refused(POLLING)
    assert ladder.current() is POLLING  # the floor is never benched
    clock.now = 10
    assert ladder.current() is WS
    ladder.refused(WS)  # refused again before it worked: benched twice as long
    clock.now = 29
    assert ladder.current() is SSE
    clock.now = 30
    assert ladder.current() is WS
    ladder.worked(WS)
    ladder.refused(WS)
    clock.now = 40
    assert ladder.current() is WS  # having worked, it starts from climb_after again


def test_ladder_benches_a_transport_that_keeps_failing_without_delivering() -> None:
    ladder = TransportLadder(max_failures=3, clock=Clock())
    ladder.failed(WS)
    ladder.failed(WS)
    ladder.worked(WS)
    ladder.failed(WS)
    ladder.failed(WS)
    assert ladder.current() is WS
    ladder.failed(WS)
    assert ladder.current() is SSE


def test_ladder_with_fewer_transports() -> None:
    ladder = TransportLadder(allowed=(SSE, POLLING), clock=Clock())
    assert ladder.current() is SSE
    with pytest.raises(ValueError, match="at least one"):
        TransportLadder(allowed=())


def test_status_board_moves_and_tells_listeners() -> None:
    board = StatusBoard()
    seen: list[ConnectionState] = []
    stop = board.listen(seen.append)
    assert board.state.status is ConnectionStatus.CONNECTING
    board.up(WS)
    board.up(WS)  # no change, no call
    board.down(ConnectionFailed("cut"), WS)
    board.up(SSE)
    board.down(ConnectionFailed("refused", reachable=False), SSE)
    stop()
    board.up(POLLING)
    assert [s.status for s in seen] == [
        ConnectionStatus.CONNECTED,
        ConnectionStatus.RECONNECTING,
        ConnectionStatus.DEGRADED_SSE,
        ConnectionStatus.OFFLINE,
    ]
    assert seen[1].error == "cut"
    assert board.state.status is ConnectionStatus.DEGRADED_POLLING
    assert board.state.status.is_live


def test_closed_is_final() -> None:
    board = StatusBoard()
    board.close()
    board.up(WS)
    assert board.state.status is ConnectionStatus.CLOSED


def test_an_illegal_transition_raises() -> None:
    board = StatusBoard()
    board.up(WS)
    with pytest.raises(ValueError, match="cannot go from connected to connecting"):
        board._move(ConnectionState(ConnectionStatus.CONNECTING, WS))
