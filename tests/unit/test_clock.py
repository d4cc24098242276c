"""The fake clock the decision tests drive keeps the promises of the real one: both of
its clocks move together and never back, and a wait returns as soon as its event is set."""

from __future__ import annotations

import threading

import pytest

from fondation.clock import SYSTEM_CLOCK, FakeClock


def test_the_wall_and_monotonic_clocks_move_together_and_only_forward() -> None:
    clock = FakeClock(now_ms=5_000, monotonic_s=10.0)
    clock.advance(1.5)
    assert (clock.now_ms(), clock.monotonic()) == (6_500, 11.5)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_an_unanswered_wait_lets_its_timeout_pass_and_an_answered_one_takes_no_time() -> None:
    clock = FakeClock(monotonic_s=0.0)
    event = threading.Event()
    assert clock.wait(event, 2.0) is False
    assert clock.monotonic() == 2.0
    event.set()
    assert clock.wait(event, 2.0) is True
    assert (clock.monotonic(), clock.slept) == (2.0, [2.0])


def test_the_system_clocks_wait_returns_at_once_for_a_set_event() -> None:
    event = threading.Event()
    event.set()
    started = SYSTEM_CLOCK.monotonic()
    assert SYSTEM_CLOCK.wait(event, 30.0) is True
    assert SYSTEM_CLOCK.monotonic() - started < 5.0
