"""What a bridge costs on Convex, and how soon it acts, on the stand-in: function calls
per hour of an idle bridge, function calls per job, pickup through the subscription, and
the time from the web's cancel to the running step stopping.

Calls are the stand-in's /_stats, which counts function executions as Convex bills them
(testbed/convex_standin/README.md). Each figure is measured beside the bridge as it was
before the subscription (commit ``BASELINE_COMMIT``: a ``readyCount`` probe every second,
``heldJobs``, ``claimBatch`` and ``reclaimExpired`` every POLL_INTERVAL), run from that
commit's tree against the same stand-in, in the same run.
"""

from __future__ import annotations

import functools
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.runs.latency import _is_final, services_wait
from bench.runs.row import Row
from bench.stack import Stack, median, pct
from store.convex import ConvexStore
from store.records import JobSpec, RepositorySpec
from testbed import services
from testbed.convex_standin.fixture import StandIn, make_convex_store, start_standin, stop_standin
from testbed.convex_standin.webapp import WebApp

BASELINE_COMMIT = "faf53cc"
REPO_ROOT = Path(__file__).resolve().parents[2]
# The Node worker polls claimOne every 5 s, one function call each (WEBAPP.md).
NODE_WORKER_CALLS_PER_HOUR = 3600 // 5
# Function calls of one job measured before the subscription (the figure).
JOB_CALLS_BEFORE = 23
# Settings in milliseconds today that the baseline read in seconds.
_MS_THEN_S = ("POLL_INTERVAL", "HEARTBEAT_INTERVAL", "LEASE_TIME")
# The client's own calls while inserting a job, not the job's cost.
_CLIENT_PATHS = ("worker/jobs:createJob", "worker/jobs:upsertRepository")


def baseline_tree() -> Path:
    """The sources at ``BASELINE_COMMIT``, extracted once under .fondation/."""
    tree = REPO_ROOT / ".fondation" / f"bench-baseline-{BASELINE_COMMIT}"
    if not (tree / "cli").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", BASELINE_COMMIT],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


class ConvexRig:
    """A worker and a bridge on a stand-in of their own."""

    def __init__(self, stack: Stack, standin: StandIn) -> None:
        self.stack = stack
        self.standin = standin
        self.store: ConvexStore = make_convex_store(standin.url, standin.secret, send_clock=False)
        self.repository_id = self.store.upsert_repository(
            RepositorySpec(user_id="web", name="shop", full_name="local/shop",
                           default_branch="main", clone_url=str(stack.repo)),
            int(time.time() * 1000),
        ).id  # fmt: skip

    def insert(self) -> tuple[str, int]:
        """A job inserted as the web app inserts one (nothing announced in Redis)."""
        job, _ = self.store.create_job(
            JobSpec(user_id="web", repository_id=self.repository_id), int(time.time() * 1000)
        )
        return job.id, job.created_at

    def calls(self) -> dict[str, int]:
        """Billed calls by function, the inserting client's own left out."""
        stats = self.standin.stats()
        return {p: n for p, n in stats["byPath"].items() if p not in _CLIENT_PATHS}


@contextmanager
def convex_rig(name: str, baseline: bool = False, **env: str) -> Iterator[ConvexRig]:
    """This product's bridge, or the baseline's (``baseline``), and a worker."""
    with Stack(f"convex-{name}") as s:
        proc, standin = start_standin(secrets.token_hex(16), s.root)
        try:
            settings = {
                "JOB_STORE": "convex", "CONVEX_URL": standin.url,
                "CONVEX_WORKER_SECRET": standin.secret,
                "LEDGER_PATH": str(s.root / "ledger.txt"), **env,
            }  # fmt: skip
            if baseline:
                _start_baseline(s, settings)
            else:
                s.worker(2, **settings)
                s.bridge(**settings)
            s.wait_ready()
            rig = ConvexRig(s, standin)
            try:
                yield rig
            finally:
                rig.store.close()
        finally:
            stop_standin(proc)


def _start_baseline(s: Stack, settings: dict[str, str]) -> None:
    """The baseline's worker and bridge, run from its tree (as their cwd, since
    ``python -m`` puts the cwd first on the path)."""
    tree = baseline_tree()
    env = {**s.env, **settings, "PYTHONPATH": f"{tree}{os.pathsep}{s.env['PYTHONPATH']}"}
    # The baseline read these three in seconds; they are milliseconds now.
    for name in _MS_THEN_S:
        if name in env:
            env[name] = str(int(env[name]) / 1000)
    for name, role, extra in (("w", "worker", {"WORKER_CONCURRENCY": "2"}), ("b", "bridge", {})):
        svc = services.Service(
            name,
            [sys.executable, "-m", "cli", role],
            {**env, "WORKER_ID": name, **extra},
            s.root / "logs" / f"{name}.log",
            cwd=tree,
        ).start()
        s.procs.append(svc)


def _total(calls: dict[str, int]) -> int:
    return sum(calls.values())


def _minus(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {p: n - before.get(p, 0) for p, n in after.items() if n - before.get(p, 0)}


def _idle_calls(name: str, baseline: bool, seconds: float, out: dict[str, Any]) -> None:
    with convex_rig(name, baseline) as rig:
        time.sleep(10)  # start-up: the first subscription run, the first polls
        before = rig.calls()
        time.sleep(seconds)
        out[name] = _minus(rig.calls(), before)


def convex_idle(seconds: float = 240) -> list[Row]:
    """Function calls an hour of a bridge and a worker with nothing to do, both bridges
    measured at once over the same ``seconds`` and extrapolated to an hour."""
    found: dict[str, Any] = {}
    threads = [
        threading.Thread(target=_idle_calls, args=(name, name == "probe", seconds, found))
        for name in ("subscription", "probe")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ours, probe = found["subscription"], found["probe"]
    per_hour = _total(ours) * 3600 / seconds
    probe_per_hour = _total(probe) * 3600 / seconds
    return [
        Row(
            "Convex function calls an hour, idle bridge and worker (stand-in)",
            f"{per_hour:.0f} (subscription, 1 min safety net)",
            f"{probe_per_hour:.0f} (1 s probe, before); {NODE_WORKER_CALLS_PER_HOUR}"
            " (Node worker's 5 s poll)",
            "<= 60",
            per_hour <= 60,
            f"measured over {seconds:.0f} s after a 10 s start-up and extrapolated; this"
            f" product: {_brief(ours)}; before ({BASELINE_COMMIT}): {_brief(probe)}. The"
            " subscription's first run on each (re)connection comes on top, and the"
            " deployment's reclaim cron (60 an hour) is the deployment's, not the bridge's",
        )
    ]


def _brief(calls: dict[str, int]) -> str:
    return ", ".join(f"{p.split(':')[-1]} {n}" for p, n in sorted(calls.items())) or "none"


def _job_calls(name: str, baseline: bool, jobs: int) -> tuple[float, dict[str, int], float]:
    """Calls per job beyond the idle rate, the calls by function, and the rate used."""
    with convex_rig(name, baseline) as rig:
        time.sleep(10)
        idle_from, idle_before = time.monotonic(), rig.calls()
        time.sleep(30)
        idle_rate = _total(_minus(rig.calls(), idle_before)) / (time.monotonic() - idle_from)
        started, before = time.monotonic(), rig.calls()
        for n in range(1, jobs + 1):
            rig.insert()
            # Waited for through /_stats, which is no function call: polling the job
            # would add the benchmark's own getJob calls to the job's.
            services_wait(functools.partial(_completed, rig, before, n))
        time.sleep(2.0)  # the last job's own re-runs and the bridge's clean-up
        spent = _minus(rig.calls(), before)
        extra = _total(spent) - idle_rate * (time.monotonic() - started)
        return extra / jobs, spent, idle_rate


def _completed(rig: ConvexRig, before: dict[str, int], jobs: int) -> bool:
    done = rig.calls().get("worker/queue:complete", 0) - before.get("worker/queue:complete", 0)
    return done >= jobs


def convex_job_calls(jobs: int = 10) -> list[Row]:
    ours, spent, _ = _job_calls("job-subscription", False, jobs)
    before, _, probe_rate = _job_calls("job-probe", True, jobs)
    stats_note = ", ".join(f"{p.split(':')[-1]} {n / jobs:.1f}" for p, n in sorted(spent.items()))
    return [
        Row(
            "Convex function calls per job (stand-in)",
            f"{ours:.1f}",
            f"{before:.1f} (1 s probe, before, beyond its {probe_rate * 3600:.0f} an hour)",
            f"<= {JOB_CALLS_BEFORE}",
            ours <= JOB_CALLS_BEFORE,
            f"{jobs} jobs one after another, beyond the idle rate; the web's insert is not"
            f" counted. Per job, by function: {stats_note}",
        )
    ]


def convex_subscription_pickup(repeats: int = 15) -> list[Row]:
    """Insert in Convex (as the web app does, no Redis announce) to the first step's start:
    through the subscription, with the baseline's 1 s probe, and with 5 s polling alone."""
    results: dict[str, list[float]] = {}
    configs: dict[str, tuple[bool, dict[str, str]]] = {
        "subscription": (False, {}),
        "probe": (True, {"CONVEX_WATCH_INTERVAL": "1.0"}),
        "polling": (False, {"CONVEX_SUBSCRIBE": "false"}),
    }
    for label, (baseline, env) in configs.items():
        with convex_rig(f"pickup-{label}", baseline, **env) as rig:
            time.sleep(2)
            rng = random.Random(2)
            values = []
            for _ in range(repeats if label != "polling" else max(repeats // 3, 3)):
                time.sleep(rng.uniform(0, 1.0))
                job_id, created = rig.insert()
                services_wait(functools.partial(_is_final, rig.store, job_id))
                first = min(x.started_at for x in rig.store.get_steps(job_id))
                values.append(float(first - created))
            results[label] = values
    ours, probe, polling = results["subscription"], results["probe"], results["polling"]
    return [
        Row(
            "Pickup latency on Convex (stand-in), web-app insert",
            f"p50 {pct(ours, 0.5):.0f} ms, p99 {pct(ours, 0.99):.0f} ms (subscription)",
            f"p50 {pct(probe, 0.5):.0f} ms, p99 {pct(probe, 0.99):.0f} ms (1 s probe,"
            f" before); p50 {pct(polling, 0.5):.0f} ms (5 s polling alone)",
            "p50 <= 300 ms",
            pct(ours, 0.5) <= 300,
            f"from the insert to the first step's start; n={repeats}"
            f" ({len(polling)} polling alone)",
        )
    ]


def _stopped(rig: ConvexRig, job_id: str) -> int | None:
    """When the running step of a canceled job stopped (its worker's log line)."""
    for line in rig.store.get_logs(job_id):
        if "Canceled during" in line.msg:
            return line.ts
    return None


def _cancel_to_stop(rig: ConvexRig, repeats: int) -> list[float]:
    web = WebApp(rig.standin.url)
    try:
        values = []
        for _ in range(repeats):
            job_id, _ = rig.insert()
            services.wait_for(
                functools.partial(_at_step, rig.store, job_id, 2), 60, "step 2 to run"
            )
            time.sleep(0.5)
            canceled_ms = int(time.time() * 1000)
            web.cancel(job_id)
            services_wait(functools.partial(_has_stopped, rig, job_id))
            stopped = _stopped(rig, job_id)
            assert stopped is not None
            values.append(float(stopped - canceled_ms))
        return values
    finally:
        web.close()


def _at_step(store: ConvexStore, job_id: str, step: int) -> bool:
    return store.get_job(job_id).current_step == step


def _has_stopped(rig: ConvexRig, job_id: str) -> bool:
    return _stopped(rig, job_id) is not None


def convex_cancel(repeats: int = 5) -> list[Row]:
    """From the web's cancel (status written, lease left) to the running step stopping
    (its worker's "Canceled during" log line), renewals every 60 s."""
    env = {
        "ANALYSIS_ENGINE": services.LEDGER_ENGINE, "STEP_DELAY_2_S": "60",
    }  # fmt: skip
    results: dict[str, list[float]] = {}
    for label, baseline in (("subscription", False), ("probe", True)):
        with convex_rig(f"cancel-{label}", baseline, **env) as rig:
            results[label] = _cancel_to_stop(rig, repeats if not baseline else 3)
    ours, before = results["subscription"], results["probe"]
    return [
        Row(
            "Web cancel to the running step stopping, Convex (stand-in)",
            f"median {median(ours):.0f} ms, max {max(ours):.0f} ms",
            f"median {median(before):.0f} ms (before: the bridge's next 5 s poll)",
            "< 1 s",
            max(ours) < 1000,
            f"n={len(ours)} ({len(before)} before); a step that runs 60 s, lease renewals"
            " every 60 s, so the stop comes from the bridge seeing the job ended",
        )
    ]
