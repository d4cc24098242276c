"""Latency: from a new job to its first step (announced, polled, and inserted in Convex
as the web app does), a hop from step to step, and what an idle bridge costs."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

from bench import bare
from bench.runs.row import Row
from bench.stack import CLONE_FREE_ENGINE, Stack, median, pct
from store.base import JobStore


def pickup(repeats: int) -> list[Row]:
    """Insert to first step start, with wake-ups (this product) and with 5 s polling only
    (today's worker), one job at a time on an idle stack."""
    rows = []
    with Stack("pickup") as s:
        s.worker(2)
        s.bridge()
        s.wait_ready()
        woken = []
        for _ in range(repeats):
            job = s.submit()
            s.wait_done([job])
            woken.append(s.pickup_ms(job))
    with Stack("polling", LISTEN_WAKEUPS="false") as s:
        s.worker(2)
        s.bridge()
        s.wait_ready()
        polled = []
        rng = random.Random(1)
        for _ in range(max(4, repeats // 3)):
            time.sleep(rng.uniform(0, 5))  # jobs arrive at random points of the poll cycle
            job = s.submit(announce=False)
            s.wait_done([job])
            polled.append(s.pickup_ms(job))
    p50, p99 = pct(woken, 0.5), pct(woken, 0.99)
    rows.append(
        Row(
            "Pickup latency p50 (embedded store, wake-up)",
            f"{p50:.0f} ms",
            f"{pct(polled, 0.5):.0f} ms (5 s polling)",
            "p50 <= 50 ms",
            p50 <= 50,
            f"n={len(woken)}; polling n={len(polled)}",
        )
    )
    rows.append(
        Row(
            "Pickup latency p99 (embedded store, wake-up)",
            f"{p99:.0f} ms",
            f"{pct(polled, 0.99):.0f} ms (5 s polling)",
            "-",
            None,
        )
    )
    return rows


def overhead(repeats: int, step_s: float = 0.05) -> list[Row]:
    """End-to-end time minus the step work, per hop, beside a bare Celery chain's hop (the
    bare worker sends the same task events). The clone takes the set time like the other
    steps and runs no git (FixedTimeCloneEngine), so all the step work is known: seven
    pauses (the clone and the six analysis steps), then finalize."""
    with Stack("overhead", BENCH_STEP_S=str(step_s), ANALYSIS_ENGINE=CLONE_FREE_ENGINE) as s:
        s.worker(2)
        s.bridge()
        bare_worker = bare.start_worker(s.redis.url, 2, s.root / "bare.log", events=True)
        try:
            s.wait_ready()
            bare.one_chain_s(s.redis.url, events=True)  # warm the bare worker
            ours, theirs, analysis = [], [], []
            for _ in range(repeats):
                job = s.submit()
                s.wait_done([job])
                steps = {x.step: x for x in s.store.get_steps(job)}
                done = s.store.get_job(job).completed_at or 0
                span_s = (done - steps[0].started_at) / 1000
                ours.append((span_s - 7 * step_s) / 8)
                # Step 1's start to finalize's start: six hops whose work is the pause.
                six_s = (steps[7].started_at - steps[1].started_at) / 1000
                analysis.append((six_s - 6 * step_s) / 6)
                theirs.append(bare.one_chain_s(s.redis.url, events=True) / 8)
        finally:
            os.killpg(bare_worker.pid, 9)
    ours_ms, theirs_ms = median(ours) * 1000, median(theirs) * 1000
    return [
        Row(
            "Orchestration overhead per hop (step start to step start)",
            f"{ours_ms:.1f} ms",
            f"{theirs_ms:.1f} ms (bare Celery hop, same events)",
            "close to Celery's",
            None,
            f"job of 8 hops, 7 of them {step_s * 1000:.0f} ms steps (the clone included,"
            f" without git); n={repeats}; per job {ours_ms * 8:.0f} ms vs"
            f" {theirs_ms * 8:.0f} ms. An analysis hop: {median(analysis) * 1000:.1f} ms"
            " beyond its pause",
        )
    ]


def idle_bridge(seconds: float = 30) -> list[Row]:
    """RSS and CPU of a bridge with nothing to do."""
    with Stack("idle") as s:
        b = s.bridge()
        time.sleep(5)
        stat = Path(f"/proc/{b.pid}/stat")

        def cpu_s() -> float:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        before = cpu_s()
        time.sleep(seconds)
        used = cpu_s() - before
        rss_kb = next(
            int(line.split()[1])
            for line in Path(f"/proc/{b.pid}/status").read_text().splitlines()
            if line.startswith("VmRSS")
        )
    per_min = used * 60 / seconds
    share = per_min / 60 * 100
    return [
        Row("Bridge at idle: RSS", f"{rss_kb / 1024:.0f} MB", "-", "< 80 MB", rss_kb / 1024 < 80),
        Row(
            "Bridge at idle: CPU",
            f"{per_min:.2f} CPU-s per minute ({share:.2f}% of a core)",
            "-",
            "< 1% of a core",
            share < 1,
            f"measured over {seconds:.0f} s",
        ),
    ]


def services_wait(predicate: Callable[[], bool], timeout_s: float = 120) -> None:
    from testbed import services

    services.wait_for(predicate, timeout_s, "a Convex job", interval_s=0.05)


def _is_final(store: JobStore, job_id: str) -> bool:
    return store.get_job(job_id).is_final
