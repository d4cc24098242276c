"""The fault scenarios. Each takes a fresh folder and a size, builds its own stack, breaks
it as it says, and returns what the ledger shows. `quick=True` is the CI size."""

from __future__ import annotations

import itertools
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from fondation.clock import now_ms
from fondation.steps import STEP_NAMES
from testbed.reliability.harness import Harness, Outcome


def _slow_git_config(root: Path, delay_s: float) -> str:
    """A git config whose serving side waits before sending the pack, the first time
    only: a clone long enough to be killed in the middle, and a quick one after."""
    hook = root / "slow-pack-objects"
    marker = root / "slow-clone-done"
    hook.write_text(
        f'#!/bin/sh\nif [ ! -e {marker} ]; then touch {marker}; sleep {delay_s}; fi\nexec "$@"\n'
    )
    hook.chmod(0o755)
    config = root / "slow.gitconfig"
    config.write_text(f"[uploadpack]\n\tpackObjectsHook = {hook}\n")
    return str(config)


def _parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _runner_pid(h: Harness, job: str, step: int) -> int:
    """The pool process running ``step``: from the ledger, or for the clone from the
    store's step record ("host:pid")."""
    if step == 0:
        worker = h.store.get_steps(job)[0].worker or ":0"
        return int(worker.rsplit(":", 1)[1])
    return next(
        pid for pid, event, j, st in _ledger(h) if j == job and st == step and event == "start"
    )


def worker_kill(root: Path, step: int, quick: bool) -> Outcome:
    """SIGKILL the worker (its whole process group) in the middle of ``step``. Both
    workers are slow on the step's first run only, so whichever takes it can be
    killed, and the other one re-runs it at once."""
    h = Harness(root)
    try:
        slow: dict[str, str] = {f"STEP_DELAY_{step}_S": "30", "DELAY_FIRST_RUN_ONLY": "1"}
        if step == 0:
            slow = {"GIT_CONFIG_GLOBAL": _slow_git_config(root, 30)}
        workers = [h.worker("w1", 2, **slow), h.worker("w2", 2, **slow)]
        h.bridge("b1")
        [job] = h.submit()
        if step == 0:
            h.wait_status(job, "cloning")
            time.sleep(0.3)
        else:
            h.wait_started(job, step)
        parent = _parent_pid(_runner_pid(h, job, step))
        [victim] = [w for w in workers if w.pid == parent]
        killed = time.time()
        victim.kill()
        h.wait_final([job], 120)
        resumed = h.next_start_after(job, max(step, 1), killed)
        recovery = [resumed - killed] if resumed else []
        return h.outcome(f"worker SIGKILL in {STEP_NAMES[step].lower()}", [job], recovery=recovery)
    finally:
        h.close()


def _ledger(h: Harness) -> list[tuple[int, str, str, int]]:
    from testbed.services import read_ledger

    return read_ledger(h.ledger)


def bridge_kill(root: Path, quick: bool) -> Outcome:
    """SIGKILL the bridge while jobs are queued and running; a second bridge takes over."""
    h = Harness(root, STEP_DELAY_S="0.3", MAX_CONCURRENT_JOBS="2", QUEUE_HIGH_WATER="4")
    try:
        h.worker("w1", concurrency=2)
        b1 = h.bridge("b1")
        ids = h.submit(4 if quick else 6)
        h.wait_started(ids[0], 2)
        killed = time.time()
        b1.kill()
        h.bridge("b2")
        h.wait_final(ids, 180)
        done = [h.store.get_job(i).completed_at or 0 for i in ids]
        first_done_after = min((d / 1000 for d in done if d / 1000 > killed), default=None)
        recovery = [first_done_after - killed] if first_done_after else []
        return h.outcome("bridge SIGKILL, second bridge takes over", ids, recovery=recovery)
    finally:
        h.close()


def bridge_and_worker_kill(root: Path, quick: bool) -> Outcome:
    """SIGKILL a bridge together with the worker running its job, as when one host is
    lost. The other bridge gives the job back without waiting for its lease (120 s here,
    six times the other scenarios'), and the other worker resumes it."""
    h = Harness(root, LEASE_TIME="120000")
    try:
        slow = {"STEP_DELAY_2_S": "30", "DELAY_FIRST_RUN_ONLY": "1"}
        workers = [h.worker("w1", 2, **slow), h.worker("w2", 2, **slow)]
        bridges = {name: h.bridge(name) for name in ("b1", "b2")}
        [job] = h.submit()
        h.wait_started(job, 2)
        holder = bridges[h.store.get_job(job).locked_by or ""]
        parent = _parent_pid(_runner_pid(h, job, 2))
        [victim] = [w for w in workers if w.pid == parent]
        killed = time.time()
        victim.kill()
        holder.kill()
        h.wait_final([job], 100)
        resumed = h.next_start_after(job, 2, killed)
        recovery = [resumed - killed] if resumed else []
        name = "bridge and its job's worker SIGKILLed together (lease 120 s)"
        return h.outcome(name, [job], recovery=recovery)
    finally:
        h.close()


def redis_outage(root: Path, quick: bool) -> Outcome:
    """Restart Redis at once in the middle of a job (a restart that lands during an ack
    can make Celery stop the worker, which must come back), then kill it again, keep it
    down, and start it again on the same port."""
    down_s = 3.0 if quick else 30.0
    h = Harness(root, STEP_DELAY_S="1")
    try:
        h.worker("w1")
        h.bridge("b1")
        ids = h.submit(2)
        h.wait_started(ids[0], 1)
        h.redis.kill()
        h.redis.start()
        h.wait_started(ids[0], 2, timeout_s=120)
        h.redis.kill()
        time.sleep(down_s)
        h.redis.start()
        back = time.time()
        try:
            h.wait_final(ids, 180)
        except AssertionError:
            alive = {svc.name: svc.alive() for svc in h.procs}
            raise AssertionError(
                f"jobs did not end after Redis came back; alive: {alive}"
                f"; statuses: {[h.status(i) for i in ids]}"
            ) from None
        resumed = min((t for t in (h.next_start_after(i, 1, back) for i in ids) if t), default=None)
        return h.outcome(
            f"Redis restarted, then down {down_s:.0f} s mid-job",
            ids,
            recovery=[resumed - back] if resumed else [],
        )
    finally:
        h.close()


def store_outage(root: Path, quick: bool) -> Outcome:
    """Lock the SQLite store exclusively for a while, as an outage would."""
    down_s = 5.0 if quick else 30.0
    h = Harness(root, STEP_DELAY_S="0.5")
    try:
        h.worker("w1")
        bridge = h.bridge("b1")
        ids = h.submit(2)
        h.wait_started(ids[0], 2)
        lock = sqlite3.connect(h.env["SQLITE_PATH"], timeout=30)
        lock.execute("BEGIN EXCLUSIVE")
        time.sleep(down_s)
        lock.rollback()
        lock.close()
        back = time.time()
        h.wait_final(ids, 180)
        outcome = h.outcome(f"store locked {down_s:.0f} s", ids)
        if not bridge.alive():
            outcome.lost += len(ids)
            outcome.notes.append("the bridge died during the outage")
        resumed = [t for t in (h.next_start_after(i, 1, back) for i in ids) if t]
        outcome.recovery_s = [min(resumed) - back] if resumed else []
        return outcome
    finally:
        h.close()


def worker_sigterm(root: Path, quick: bool) -> Outcome:
    """SIGTERM the worker running a step, as `docker stop` does: after its soft-shutdown
    window the step is handed back and another worker runs it."""
    h = Harness(root, WORKER_SOFT_SHUTDOWN_TIMEOUT="1")
    try:
        slow = {"STEP_DELAY_3_S": "30", "DELAY_FIRST_RUN_ONLY": "1"}
        workers = [h.worker("w1", 2, **slow), h.worker("w2", 2, **slow)]
        h.bridge("b1")
        [job] = h.submit()
        h.wait_started(job, 3)
        parent = _parent_pid(_runner_pid(h, job, 3))
        [victim] = [w for w in workers if w.pid == parent]
        stopped = time.time()
        victim.signal(signal.SIGTERM, group=False)
        h.wait_final([job], 120)
        resumed = h.next_start_after(job, 3, stopped)
        return h.outcome(
            "worker SIGTERM mid-step", [job], recovery=[resumed - stopped] if resumed else []
        )
    finally:
        h.close()


def time_limits(root: Path, quick: bool) -> Outcome:
    """A step past its soft limit, then one that ignores it and meets the hard limit:
    each attempt fails, retries follow the backoff, the job ends dead, no child remains."""
    h = Harness(root, STEP_SOFT_TIME_LIMIT="1", STEP_TIME_LIMIT="2", VISIBILITY_TIMEOUT="60")
    try:
        h.worker("w-soft", STEP_DELAY_2_S="10")
        h.bridge("b1")
        soft = h.submit(max_attempts=2)
        h.wait_final(soft, 90)
        outcome = h.outcome("soft then hard time limit", soft, expected="dead")
        for svc in list(h.procs):
            if svc.name.startswith("w-"):
                svc.stop()
        pidfile = root / "children.txt"
        h.worker(
            "w-hard", STEP_DELAY_2_S="10", IGNORE_SOFT_LIMIT="1", SPAWN_CHILD_PIDFILE=str(pidfile)
        )
        hard = h.submit(max_attempts=2)
        h.wait_final(hard, 90)
        outcome.jobs += 1
        outcome.lost += h.lost(hard, expected="dead")
        outcome.doubled += h.doubled(hard)
        for error in (h.store.get_job(soft[0]).error, h.store.get_job(hard[0]).error):
            outcome.notes.append(str(error))
        # SIGKILL takes effect when the process next runs: on a loaded machine a child
        # killed a few milliseconds before the job was marked dead may still show. An
        # orphan is one that is still there seconds later.
        deadline = time.monotonic() + 5
        while (orphans := _alive_pids(pidfile)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if orphans:
            outcome.lost += 1
            outcome.notes.append(f"orphaned child processes: {orphans}")
        attempts = h.store.get_job(hard[0]).attempts
        if attempts != 2:
            outcome.notes.append(f"hard-limited job made {attempts} attempts, not 2")
            outcome.lost += 1
        return outcome
    finally:
        h.close()


def _alive_pids(pidfile: Path) -> list[int]:
    if not pidfile.exists():
        return []
    alive = []
    for line in pidfile.read_text().split():
        try:
            state = Path(f"/proc/{int(line)}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            continue
        # A zombie has exited and waits to be reaped by its parent: not a running orphan.
        if state != "Z":
            alive.append(int(line))
    return alive


def cancel_each_state(root: Path, quick: bool) -> Outcome:
    """Cancel a pending job, a queued one, and one running in each step k."""
    h = Harness(root, STEP_DELAY_S="0.3")
    try:
        pending = h.submit()
        h.store.request_cancel(pending[0], now_ms())
        bridge = h.bridge("b1")
        queued = h.submit()
        h.wait_status(queued[0], "claimed")
        h.store.request_cancel(queued[0], now_ms())
        h.wait_final(queued, 20)
        h.worker("w1")
        bounds: list[float] = []
        running = []
        for step in range(1, 7):
            [job] = h.submit()
            running.append(job)
            h.wait_started(job, step)
            asked = time.monotonic()
            h.store.request_cancel(job, now_ms())
            h.wait_final([job], 30)
            bounds.append(time.monotonic() - asked)
        time.sleep(1)
        ids = pending + queued + running
        outcome = h.outcome(
            "cancel when pending, queued, running step 1-6",
            ids,
            expected="canceled",
            recovery=bounds,
        )
        for step, job in enumerate(running, start=1):
            if max(h.starts(job), default=0) > step:
                outcome.doubled += 1
                outcome.notes.append(f"a step after {step} ran for canceled job {job}")
        if h.starts(queued[0]):
            outcome.doubled += 1
        del bridge
        return outcome
    finally:
        h.close()


def poison(root: Path, quick: bool) -> Outcome:
    """A job whose step kills its worker process every time, and one whose step always
    raises: both end dead after maxAttempts, with backoff between attempts."""
    h = Harness(root, MAX_DELIVERIES="2")
    try:
        h.worker("w1", POISON_STEP="2")
        h.bridge("b1")
        killer = h.submit(max_attempts=2)
        h.wait_final(killer, 120)
        outcome = h.outcome("poison job (kills its worker / always fails)", killer, expected="dead")
        starts = h.starts(killer[0]).get(2, 0)
        if starts > 2 * 2:
            outcome.notes.append(f"{starts} deliveries of the poison step, cap is 4")
            outcome.doubled += 1
        for svc in list(h.procs):
            if svc.name == "w1":
                svc.stop()
        h.worker("w2", FAIL_STEP="4")
        failing = h.submit(max_attempts=3)
        h.wait_final(failing, 120)
        outcome.jobs += 1
        outcome.lost += h.lost(failing, expected="dead")
        times = [
            ts
            for _, ev, job, st, ts in _ledger_timed(h)
            if job == failing[0] and ev == "start" and st == 4
        ]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        outcome.recovery_s = gaps
        if len(times) != 3 or any(g < 5 for g in gaps):
            outcome.notes.append(f"attempts at gaps {gaps}, want 3 attempts >= 5 s apart")
            outcome.lost += 1
        return outcome
    finally:
        h.close()


def _ledger_timed(h: Harness) -> list[tuple[int, str, str, int, float]]:
    from testbed.services import read_ledger_timed

    return read_ledger_timed(h.ledger)


def soak(root: Path, quick: bool) -> Outcome:
    """Bridges and workers with random kills and restarts under a stream of jobs."""
    import random

    rng = random.Random(7)
    n_jobs, n_procs, kills = (24, 2, 4) if quick else (200, 4, 30)
    h = Harness(
        root,
        STEP_DELAY_S="0.05",
        MAX_CONCURRENT_JOBS="4",
        QUEUE_HIGH_WATER="4",
        LEASE_TIME="10000",
        HEARTBEAT_INTERVAL="1000",
    )
    try:
        workers = [h.worker(f"w{i}") for i in range(n_procs)]
        bridges = [h.bridge(f"b{i}") for i in range(n_procs)]
        ids = h.submit(n_jobs)
        for k in range(kills):
            time.sleep(rng.uniform(0.5, 2.0))
            if rng.random() < 0.5:
                i = rng.randrange(len(workers))
                workers[i].kill()
                workers[i] = h.worker(f"w{i}-{k}")
            else:
                i = rng.randrange(len(bridges))
                bridges[i].kill()
                bridges[i] = h.bridge(f"b{i}-{k}")
        h.wait_final(ids, 900)
        return h.outcome(
            f"soak: {n_procs} bridges, {n_procs} workers, {n_jobs} jobs, {kills} kills", ids
        )
    finally:
        h.close()


def _worker_kill_at(step: int) -> Callable[[Path, bool], Outcome]:
    return lambda root, quick: worker_kill(root, step, quick)


SCENARIOS: dict[str, Callable[[Path, bool], Outcome]] = {
    **{f"worker_kill_{s}": _worker_kill_at(s) for s in range(7)},
    "bridge_kill": bridge_kill,
    "bridge_and_worker_kill": bridge_and_worker_kill,
    "redis_outage": redis_outage,
    "store_outage": store_outage,
    "worker_sigterm": worker_sigterm,
    "time_limits": time_limits,
    "cancel": cancel_each_state,
    "poison": poison,
    "soak": soak,
}
