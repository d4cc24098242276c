"""Follow-ups in the chapter fan-out: each starts as soon as its item is done and a thread
is free, while slower items still run; their failures count as the step's."""

from __future__ import annotations

import threading

import pytest

from analysis.claude.fanout import fan_out
from fondation.errors import JobCanceled


def test_a_follow_up_starts_while_a_slower_item_still_runs() -> None:
    followed = threading.Event()
    seen: list[str] = []

    def work(item: str) -> str:
        if item == "slow":
            # Ends only once the fast item's follow-up ran (or after 5 s, failing below).
            return "slow saw the follow-up" if followed.wait(5) else "slow waited alone"
        return item

    def follow_up(result: str) -> None:
        seen.append(result)
        followed.set()

    out = fan_out(["slow", "fast"], work, 2, lambda: None, follow_up)
    assert out == ["slow saw the follow-up", "fast"]
    assert sorted(seen) == ["fast", "slow saw the follow-up"]


def test_a_follow_up_goes_ahead_of_the_items_not_yet_started() -> None:
    order: list[str] = []
    lock = threading.Lock()

    def work(item: str) -> str:
        with lock:
            order.append(item)
        return item

    def follow_up(result: str) -> None:
        with lock:
            order.append(f"after {result}")

    fan_out(["a", "b", "c"], work, 1, lambda: None, follow_up)
    assert order == ["a", "after a", "b", "after b", "c", "after c"]


def test_a_follow_up_that_raises_fails_the_fan_out() -> None:
    def follow_up(result: int) -> None:
        raise JobCanceled("canceled during a follow-up")

    with pytest.raises(JobCanceled):
        fan_out([1, 2], lambda i: i, 2, lambda: None, follow_up)
