"""Every process stops cleanly, in bounded time, with nothing left behind: `fondation up`
under each stop signal and under SIGKILL, `fondation analyze` once its job is done, a
worker whose Redis dies while it stops, and an embedded Redis whose parent is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from fondation import keys
from fondation.embedded_redis import EmbeddedRedis, free_port
from testbed import services
from testbed.gitrepo import make_repo
from testbed.services import LEDGER_ENGINE, REPO_ROOT, base_env, wait_for
from tests.support.processes import alive, descendants, port_listens, wait_gone

pytestmark = pytest.mark.acceptance

# An idle stack stops in about a second; the bounds leave room for a loaded machine.
STOP_BOUND_S = 15.0
# After a SIGKILL the children get SIGTERM from the kernel and run their own stop.
ORPHAN_BOUND_S = 15.0
# The goal for `fondation analyze`: done within 3 s of its job. Measured 1.5-1.7 s: the
# store poll (0.2 s), the worker's warm stop (its event loop wakes within a second; the
# idle pool is killed, tasks/worker/pool.py), the bridge and Redis in a tenth of a second each.
ANALYZE_TAIL_BOUND_S = 3.0


def cli_env(cwd: Path) -> dict[str, str]:
    """The user's environment on the embedded defaults: no Redis, store or scratch set."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "SQLITE_PATH", "JOB_STORE", "CONVEX_URL", "TEMP_DIR"}
    }
    env.update(PYTHONPATH=str(REPO_ROOT), TEMP_DIR=str(cwd / "tmp"))
    return env


class UpProcess:
    """`fondation up` in a folder of its own, on the embedded Redis, with Flower."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.health_port = free_port()
        self.flower_port = free_port()
        env = cli_env(cwd)
        env.update(
            ANALYSIS_ENGINE=LEDGER_ENGINE,
            HEALTH_PORT=str(self.health_port),
            FLOWER_BASIC_AUTH="user:secret",
            WORKER_LIVENESS_INTERVAL="0.3",
            WORKER_CONCURRENCY="2",
        )
        self.log = (cwd / "up.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "up", "--flower-port", str(self.flower_port)],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
        )  # fmt: skip

    def redis_port(self) -> int:
        url = (self.cwd / ".fondation" / "redis.url").read_text()
        return int(url.rsplit(":", 1)[1].split("/", 1)[0])

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        marker = self.cwd / ".fondation" / "redis.url"
        wait_for(marker.exists, timeout_s, "the embedded Redis")
        client = redis.Redis.from_url(marker.read_text())
        try:
            wait_for(
                lambda: next(iter(client.scan_iter(keys.worker_alive("*"))), None) is not None,
                timeout_s,
                "the worker's liveness beat",
            )
        finally:
            client.close()
        wait_for(lambda: port_listens(self.health_port), timeout_s, "the health view")
        wait_for(lambda: port_listens(self.flower_port), timeout_s, "Flower")

    def ports(self) -> list[int]:
        return [self.health_port, self.flower_port, self.redis_port()]

    def output(self) -> str:
        return (self.cwd / "up.log").read_text(errors="replace")

    def close(self) -> None:
        for pid in descendants(self.proc.pid):
            os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.log.close()


@pytest.fixture
def up(tmp_path: Path) -> Iterator[UpProcess]:
    proc = UpProcess(tmp_path)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_up_stopped_by_a_signal_stops_its_whole_stack_and_frees_its_ports(
    up: UpProcess, sig: signal.Signals
) -> None:
    children = descendants(up.proc.pid)
    ports = up.ports()
    # redis-server, bridge, worker with its two pool processes, Flower.
    assert len(children) >= 6, children

    started = time.monotonic()
    up.proc.send_signal(sig)
    up.proc.wait(STOP_BOUND_S)
    took_s = time.monotonic() - started

    assert wait_gone(children, 1.0) == set(), up.output()
    assert [port for port in ports if port_listens(port)] == []
    assert up.proc.returncode == 0, up.output()
    assert f"stopped: {sig.name}" in up.output()
    assert took_s < STOP_BOUND_S


def test_up_killed_leaves_no_child_running(up: UpProcess) -> None:
    children = descendants(up.proc.pid)
    ports = up.ports()

    up.proc.kill()
    up.proc.wait(5)

    left = wait_gone(children, ORPHAN_BOUND_S)
    assert left == set(), [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]
    assert [port for port in ports if port_listens(port)] == []


def test_analyze_ends_within_three_seconds_of_its_jobs_completion(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop")
    env = cli_env(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "cli", "analyze", str(repo), "--out", "course"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    ended_s = time.time()
    assert run.returncode == 0, run.stderr[-3000:]
    listed = subprocess.run(
        [sys.executable, "-m", "cli", "jobs", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    [job] = json.loads(listed.stdout)

    tail_s = ended_s - job["completedAt"] / 1000

    assert 0 < tail_s < ANALYZE_TAIL_BOUND_S, run.stderr[-3000:]
    assert (tmp_path / "course" / "index.md").exists()


@pytest.mark.parametrize("redis_dies", ["just before the stop", "just after the stop"])
def test_a_worker_whose_redis_dies_while_it_stops_exits_in_bounded_time(
    tmp_path: Path, redis_dies: str
) -> None:
    server = EmbeddedRedis(tmp_path / "redis", persist=False)
    url = server.start()
    worker = services.worker(tmp_path, base_env(tmp_path, url), concurrency=1)
    try:
        client = redis.Redis.from_url(url)
        wait_for(
            lambda: next(iter(client.scan_iter(keys.worker_alive("*"))), None) is not None,
            60,
            "the worker's liveness beat",
        )
        client.close()
        # Let the worker's event connection settle into its steady state.
        time.sleep(1.0)
        if redis_dies == "just before the stop":
            server.kill()
            worker.signal(signal.SIGTERM, group=False)
        else:
            worker.signal(signal.SIGTERM, group=False)
            time.sleep(0.2)
            server.kill()
        started = time.monotonic()
        assert worker.proc is not None
        worker.proc.wait(STOP_BOUND_S)
        assert time.monotonic() - started < STOP_BOUND_S
    except subprocess.TimeoutExpired:
        pytest.fail(f"the worker still runs {STOP_BOUND_S} s after SIGTERM:\n{worker.log()}")
    finally:
        worker.kill()
        server.stop()


def test_an_embedded_redis_does_not_outlive_a_killed_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from fondation.embedded_redis import EmbeddedRedis
        server = EmbeddedRedis(Path({str(tmp_path / "redis")!r}), persist=False)
        print(server.start(), flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        url = parent.stdout.readline().decode().strip()
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        children = descendants(parent.pid)
        assert len(children) == 1
        assert all(alive(pid) for pid in children)

        parent.kill()
        parent.wait(5)

        assert wait_gone(children, ORPHAN_BOUND_S) == set()
        assert not port_listens(port)
    finally:
        for pid in descendants(parent.pid):
            os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
