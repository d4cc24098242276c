"""Real processes for integration and acceptance tests: bridges and Celery workers
started as `python -m cli ...` with a test environment, killed with real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LEDGER_ENGINE = "testbed.ledger_engine:LedgerEngine"


def base_env(tmp: Path, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVEX_", "STEP_"))}
    env.update(
        REDIS_URL=redis_url,
        SQLITE_PATH=str(tmp / "store" / "fondation.db"),
        TEMP_DIR=str(tmp / "work"),
        ANALYSIS_ENGINE=LEDGER_ENGINE,
        ALLOW_LOCAL_REPOS="true",
        POLL_INTERVAL="500",
        HEARTBEAT_INTERVAL="1000",
        LEASE_TIME="20000",
        WORKER_LIVENESS_INTERVAL="0.3",
        HEALTH_PORT="0",
        HEALTH_HOST="127.0.0.1",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        WORKER_SOFT_SHUTDOWN_TIMEOUT="5",
        PYTHONPATH=str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        JOB_STORE="sqlite",
    )
    env.update(extra)
    return env


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    # `python -m` puts its working directory first on the path: another tree's sources
    # (the benchmarks' baseline) run with that tree as cwd.
    cwd: Path = REPO_ROOT

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = self.log_path.open("ab")
        # A session of its own, so a kill reaches the whole process group (pool children).
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int, group: bool = True) -> None:
        if not self.alive():
            return
        if group:
            os.killpg(self.pid, sig)
        else:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group: the worker and its pool children die at once."""
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self, timeout_s: float = 20) -> None:
        if not self.alive():
            return
        self.signal(signal.SIGTERM, group=False)
        assert self.proc is not None
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def bridge(tmp: Path, env: dict[str, str], name: str = "bridge") -> Service:
    env = {**env, "WORKER_ID": name}
    return Service(
        name, [sys.executable, "-m", "cli", "bridge"], env, tmp / "logs" / f"{name}.log"
    ).start()


def worker(tmp: Path, env: dict[str, str], name: str = "worker", concurrency: int = 2) -> Service:
    env = {**env, "WORKER_ID": name, "WORKER_CONCURRENCY": str(concurrency)}
    return Service(
        name, [sys.executable, "-m", "cli", "worker"], env, tmp / "logs" / f"{name}.log"
    ).start()


def flower(tmp: Path, env: dict[str, str], port: int, name: str = "flower") -> Service:
    """``fondation flower``; FLOWER_BASIC_AUTH comes from ``env``."""
    return Service(
        name,
        [sys.executable, "-m", "cli", "flower", "--port", str(port)],
        env,
        tmp / "logs" / f"{name}.log",
    ).start()


def session_command_lines(session_id: int) -> list[str]:
    """The command line of every process of a session (a service and its children, the
    pool processes among them), as ``ps`` shows them to any user of the host."""
    lines = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            # Fields after the command name, which may hold spaces: state, ppid, pgrp, sid.
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[3]) == session_id:
                lines.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return lines


def wait_for(
    predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def read_ledger(path: Path) -> list[tuple[int, str, str, int]]:
    return [(pid, event, job, step) for pid, event, job, step, _ in read_ledger_timed(path)]


def read_ledger_timed(path: Path) -> list[tuple[int, str, str, int, float]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 5:
            continue  # a line cut short by a kill
        pid, event, job, step, ts = parts
        rows.append((int(pid), event, job, int(step), float(ts)))
    return rows
