"""Run one call per chapter on a small thread pool, each failing on its own.

The threads only wait on child processes, so the GIL is no bottleneck. A chapter that
fails does not stop the others while the failure may pass (their answers are cached for
the next run of the step); a permanent failure stops new chapters from starting, since
the step will fail anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from fondation.errors import JobCanceled, PermanentError, StepValidationError, WorkDeferred

T = TypeVar("T")
R = TypeVar("R")


class _NotStarted(Exception):
    """A chapter skipped because another one failed for good."""


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

    ``follow_up(result)`` is queued on the same pool as soon as an item's work is done,
    behind the items not yet started: it fills the threads the slowest items leave idle,
    and the call returns once every follow-up has ended too. It handles its own
    failures; what it raises counts as the step's."""
    stop = threading.Event()
    follow_ups: list[Future[None]] = []
    lock = threading.Lock()

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="claude-chapter") as pool:

        def guarded(item: T) -> R:
            if stop.is_set():
                raise _NotStarted
            try:
                result = work(item)
            except (PermanentError, WorkDeferred):
                # The step fails, or its job is given back: the others wait for then.
                stop.set()
                raise
            if follow_up is not None and not stop.is_set():
                # Queued before this item's future completes, so that once every item
                # is done every follow-up is in the pool.
                with lock:
                    follow_ups.append(pool.submit(follow_up, result))
            return result

        futures = [pool.submit(guarded, item) for item in items]
        try:
            errors = [e for f in futures if (e := f.exception()) is not None]
            errors += [e for f in follow_ups if (e := f.exception()) is not None]
        except BaseException:
            stop.set()
            on_abort()
            raise
    errors = [e for e in errors if not isinstance(e, _NotStarted)]
    if errors:
        raise _most_severe(errors)
    return [f.result() for f in futures]


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
