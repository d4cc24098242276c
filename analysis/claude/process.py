"""Run one child in a process group of its own and make sure the whole group goes.

The CLI starts helpers of its own (node workers, ripgrep, MCP servers), so killing the
child alone could leave orphans behind; killing its group does not. The group id is the
child's pid, which stays reserved until the child is reaped, so the group is always
signalled before ``wait()`` and never after.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from checkout.procgroup import ProcessGroups
from fondation.cancel import CancelToken
from fondation.errors import JobCanceled

POLL_S = 0.2
_EXIT_POLL_S = 0.01
STDERR_TAIL_BYTES = 64_000
_READ_CHUNK = 65_536
_JOIN_S = 2.0


class ProcessTimeout(Exception):
    """The child ran past its deadline; its group was killed."""


@dataclass(frozen=True)
class Finished:
    returncode: int  # negative: killed by that signal
    stdout: bytes
    stderr_tail: bytes
    duration_ms: int


class _Drain(threading.Thread):
    """Reads a pipe to its end so the child never blocks on a full pipe."""

    def __init__(self, pipe: IO[bytes], tail_limit: int | None) -> None:
        super().__init__(daemon=True, name="claude-pipe")
        self.pipe = pipe
        self.tail_limit = tail_limit
        self.data = bytearray()
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while chunk := os.read(self.pipe.fileno(), _READ_CHUNK):
                self.data += chunk
                if self.tail_limit is not None and len(self.data) > self.tail_limit:
                    del self.data[: len(self.data) - self.tail_limit]
        except (OSError, ValueError):
            pass  # the pipe was closed under us after the group was killed
        finally:
            self.done.set()


def _feed(pipe: IO[bytes], data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except (BrokenPipeError, OSError, ValueError):
        pass  # the child exited without reading: its exit code tells the story


def _exited(pid: int) -> bool:
    """True once the child has exited, without reaping it (WNOWAIT keeps the pid, and so
    the group id, reserved until we have signalled the group)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # nobody left in the group


def _stop_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM to the group, a grace period for the leader to exit, then SIGKILL to the
    group: helpers that ignored SIGTERM, or outlived their parent, go too."""
    _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while not _exited(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    _signal_group(proc.pid, signal.SIGKILL)


def _watch(
    proc: subprocess.Popen[bytes],
    stdout: _Drain,
    cancel: CancelToken,
    deadline: float,
    poll_s: float,
) -> Literal["exited", "timeout", "canceled"]:
    while not _exited(proc.pid):
        if cancel.is_set:
            return "canceled"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout"
        if stdout.done.is_set():
            # stdout closed: the exit is usually milliseconds away, so look again soon
            # (and still wake at once on cancel).
            cancel.wait(min(_EXIT_POLL_S, remaining))
        else:
            # Wake at once when stdout closes, else every poll_s to look at cancel.
            stdout.done.wait(min(poll_s, remaining))
    return "exited"


def _start(
    argv: list[str], cwd: Path, env: dict[str, str], stdin: bytes | None
) -> tuple[subprocess.Popen[bytes], _Drain, _Drain]:
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    out, err = _Drain(proc.stdout, None), _Drain(proc.stderr, STDERR_TAIL_BYTES)
    out.start()
    err.start()
    if stdin is not None:
        assert proc.stdin is not None
        threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()
    return proc, out, err


def _end(
    proc: subprocess.Popen[bytes],
    drains: tuple[_Drain, _Drain],
    groups: ProcessGroups | None,
    *,
    still_running: bool,
    grace_s: float,
) -> None:
    if still_running:
        _stop_group(proc, grace_s)
    _signal_group(proc.pid, signal.SIGKILL)  # stragglers of a child that exited
    if groups is not None:
        groups.discard(proc.pid)  # before wait(): after it, the pgid may be reused
    proc.wait()
    for drain in drains:
        drain.join(_JOIN_S)
        # A process that left the group may still hold the pipe: then the reader keeps
        # it, as closing an fd another thread reads from risks reading a reused one.
        if not drain.is_alive():
            drain.pipe.close()


def run_in_group(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    stdin: bytes | None,
    timeout_s: float,
    cancel: CancelToken,
    grace_s: float,
    groups: ProcessGroups | None = None,
    poll_s: float = POLL_S,
) -> Finished:
    """Run ``argv`` to completion; raise ``ProcessTimeout`` or ``JobCanceled`` after killing
    its whole process group. ``OSError`` from starting it propagates.

    ``groups`` records the group while it lives, so that whoever outlives a step killed by
    its hard time limit (the worker's parent process) can still kill it."""
    started = time.monotonic()
    proc, out, err = _start(argv, cwd, env, stdin)
    if groups is not None:
        groups.add(proc.pid)
    outcome: Literal["exited", "timeout", "canceled"] = "canceled"
    try:
        outcome = _watch(proc, out, cancel, started + timeout_s, poll_s)
    finally:
        # Also on an exception in this thread: no call leaves a process behind.
        _end(proc, (out, err), groups, still_running=outcome != "exited", grace_s=grace_s)
    duration_ms = int((time.monotonic() - started) * 1000)
    if outcome == "canceled":
        raise JobCanceled(cancel.reason or "canceled")
    if outcome == "timeout":
        raise ProcessTimeout(f"still running after {timeout_s:g} s")
    return Finished(proc.returncode, bytes(out.data), bytes(err.data), duration_ms)
