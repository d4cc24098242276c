"""Run one call per chapter on a small thread pool, each failing on its own.

The threads only wait on child processes, so the GIL is no bottleneck. A chapter that
fails does not stop the others while the failure may pass (their answers are cached for
the next run of the step); a permanent failure stops new chapters from starting, since
the step will fail anyway.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from fondation.errors import JobCanceled, PermanentError, StepValidationError, WorkDeferred

T = TypeVar("T")
R = TypeVar("R")


def fan_out(
    items: Sequence[T],
    work: Callable[[T], R],
    concurrency: int,
    on_abort: Callable[[], None],
    follow_up: Callable[[R], None] | None = None,
) -> list[R]:
    """``work`` applied to every item, results in the items' order; raises after all
    started work has ended. ``on_abort`` must make running work stop soon: it is called
    when this thread is interrupted (a soft time limit), as leaving the pool waits for
    every running call.

    ``follow_up(result)`` is due as soon as an item's work is done, and goes ahead of
    the items not yet started: a chapter's review starts before the next chapter's draft,
    so the first chapters are finished (and readable) as early as they can be, and the
    threads the slowest items leave idle still fill up. The call returns once every
    follow-up has ended too. A follow-up handles its own failures; what it raises counts
    as the step's."""
    stop = threading.Event()
    lock = threading.Lock()
    waiting_items: deque[tuple[int, T]] = deque(enumerate(items))
    due_follow_ups: deque[R] = deque()
    results: dict[int, R] = {}
    errors: list[BaseException] = []

    def next_task() -> Callable[[], None] | None:
        with lock:
            if due_follow_ups:
                return functools.partial(run_follow_up, due_follow_ups.popleft())
            if waiting_items and not stop.is_set():
                return functools.partial(run_item, *waiting_items.popleft())
            return None

    def run_item(index: int, item: T) -> None:
        try:
            result = work(item)
        except (PermanentError, WorkDeferred) as exc:
            # The step fails, or its job is given back: the others wait for then.
            stop.set()
            errors.append(exc)
            return
        except Exception as exc:  # each chapter fails on its own
            errors.append(exc)
            return
        results[index] = result
        if follow_up is not None and not stop.is_set():
            with lock:
                due_follow_ups.append(result)

    def run_follow_up(result: R) -> None:
        assert follow_up is not None
        try:
            follow_up(result)
        except Exception as exc:  # counted as the step's
            errors.append(exc)

    def slot() -> None:
        # One of ``concurrency`` threads: follow-ups first, then the next item, until
        # nothing is left (the thread that finishes an item finds its follow-up).
        while (task := next_task()) is not None:
            task()

    threads = max(1, min(concurrency, len(items)))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="claude-chapter") as pool:
        slots = [pool.submit(slot) for _ in range(threads)]
        try:
            for f in slots:
                f.result()
        except BaseException:
            stop.set()
            on_abort()
            raise
    if errors:
        raise _most_severe(errors)
    return [results[i] for i in range(len(items))]


def _most_severe(errors: list[BaseException]) -> BaseException:
    for e in errors:
        if isinstance(e, JobCanceled):
            return e
    invalid = [e for e in errors if isinstance(e, StepValidationError)]
    if invalid:
        # One report for every chapter that stayed invalid.
        merged = StepValidationError("\n\n".join(str(e) for e in invalid))
        merged.__cause__ = invalid[0]
        return merged
    for e in errors:
        if isinstance(e, PermanentError):
            return e
    deferred = [e for e in errors if isinstance(e, WorkDeferred)]
    if deferred:
        # Given back until the longest of the waits: the others would only wait again.
        return max(deferred, key=lambda e: e.until_ms)
    first = errors[0]
    if len(errors) > 1:
        first.add_note(f"{len(errors) - 1} other call(s) of this step failed too")
    return first
