"""A call that hangs is killed with its whole process group, on timeout and on cancel:
the double starts a grandchild `sleep` and ignores SIGTERM, and neither may survive."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from analysis.claude import read_records
from analysis.claude.result import ClaudeTimeout
from analysis.claude.runner import ClaudeCall, ClaudeRunner
from analysis.course.artifacts import OrderArtifact
from analysis.engine import StepContext
from checkout.procgroup import ProcessGroups
from fondation.errors import JobCanceled, TransientError
from testbed.claude_double import double_settings, make_claude_bin

CALL = ClaudeCall(step="order", key="order", prompt="p", schema=OrderArtifact.model_json_schema())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead; it only waits for a reaper (PID 1 here may be slow to reap).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _assert_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 3
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if _alive(p)], "a process of the call outlived it"


def _hanging_runner(tmp_path: Path, pid_file: Path, **settings: object) -> ClaudeRunner:
    claude = make_claude_bin(tmp_path / "bin", "hang", CLAUDE_DOUBLE_PID_FILE=str(pid_file))
    return ClaudeRunner(double_settings(claude, **settings))


def _pids(pid_file: Path) -> list[int]:
    doc = json.loads(pid_file.read_text())
    return [doc["child"], doc["grandchild"]]


def _cancel_once_started(ctx: StepContext, pid_file: Path) -> threading.Thread:
    def cancel() -> None:
        deadline = time.monotonic() + 10
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        ctx.cancel.cancel("canceled by the user")

    thread = threading.Thread(target=cancel, daemon=True)
    thread.start()
    return thread


def test_a_call_past_its_timeout_is_killed_with_its_grandchildren(
    tmp_path: Path, ctx: StepContext
) -> None:
    pid_file = tmp_path / "pids.json"
    runner = _hanging_runner(tmp_path, pid_file, timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(ClaudeTimeout, match="timed out") as caught:
        runner.run(CALL, ctx)
    assert isinstance(caught.value, TransientError)
    # The timeout, plus the SIGTERM grace the double ignores, plus a little.
    assert time.monotonic() - started < 1.0 + 0.3 + 1.5
    _assert_gone(_pids(pid_file))
    [record] = read_records(ctx.work_dir)
    assert (record.subtype, record.is_error) == ("timeout", True)


def test_cancel_stops_a_hanging_call_quickly(tmp_path: Path, ctx: StepContext) -> None:
    pid_file = tmp_path / "pids.json"
    runner = _hanging_runner(tmp_path, pid_file, timeout_s=60.0)
    canceller = _cancel_once_started(ctx, pid_file)
    started = time.monotonic()
    with pytest.raises(JobCanceled, match="canceled by the user"):
        runner.run(CALL, ctx)
    canceller.join()
    # Noticed within a 0.2 s poll, then the 0.3 s grace: far from the 60 s timeout.
    assert time.monotonic() - started < 3.0
    _assert_gone(_pids(pid_file))
    assert read_records(ctx.work_dir)[0].subtype == "canceled"


def test_the_group_is_recorded_while_the_call_runs_and_forgotten_after(
    tmp_path: Path, ctx: StepContext
) -> None:
    pid_file = tmp_path / "pids.json"
    ctx.process_groups = ProcessGroups(tmp_path / "procs")
    runner = _hanging_runner(tmp_path, pid_file, timeout_s=60.0)
    seen: list[list[str]] = []

    def look_then_cancel() -> None:
        while not pid_file.exists():
            time.sleep(0.02)
        seen.append(sorted(p.name for p in (tmp_path / "procs").iterdir()))
        ctx.cancel.cancel("canceled")

    thread = threading.Thread(target=look_then_cancel, daemon=True)
    thread.start()
    with pytest.raises(JobCanceled):
        runner.run(CALL, ctx)
    thread.join()
    child = _pids(pid_file)[0]
    assert seen == [[str(child)]]  # the group id is the child's pid
    assert list((tmp_path / "procs").iterdir()) == []


def test_a_step_killed_mid_call_leaves_a_group_its_parent_can_kill(
    tmp_path: Path, ctx: StepContext
) -> None:
    """What the worker's parent does after a hard time limit: kill the recorded groups."""
    pid_file = tmp_path / "pids.json"
    ctx.process_groups = ProcessGroups(tmp_path / "procs")
    runner = _hanging_runner(tmp_path, pid_file, timeout_s=60.0)
    killed: list[int] = []

    def parent_kills() -> None:
        while not pid_file.exists():
            time.sleep(0.02)
        killed.extend(ProcessGroups(tmp_path / "procs").kill_all())

    thread = threading.Thread(target=parent_kills, daemon=True)
    thread.start()
    # The runner sees its child die by SIGKILL: a crash, not a hang.
    with pytest.raises(TransientError, match="signal 9"):
        runner.run(CALL, ctx)
    thread.join()
    assert killed == [_pids(pid_file)[0]]
    _assert_gone(_pids(pid_file))
