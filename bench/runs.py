"""The benchmarks. Each returns rows for docs/BENCHMARKS.md: the figure, its reference
measured in the same run, and the goal."""

from __future__ import annotations

import functools
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import bare, cpu
from bench.stack import BENCH_ENGINE, CLONE_FREE_ENGINE, Stack, median, pct
from bridge.store.base import JobStore


@dataclass
class Row:
    name: str
    value: str
    reference: str
    goal: str
    met: bool | None
    note: str = ""


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


def throughput(jobs: int, repeats: int, events: bool = True, git: bool = False) -> list[Row]:
    """Zero-time steps, 2 worker processes: jobs/s beside bare 8-task chains/s on the same
    Redis. The bare worker sends the same task events as ours, so what differs is ours
    alone; CPU per job, by process, says where the difference goes.

    By default every step takes zero time, the clone included (FixedTimeCloneEngine runs
    no git): the goal's terms, and what is judged. With ``git`` the clone step clones the
    benchmark repository as the product does, and a third series, bare chains whose first
    task runs the same git commands, shows the floor git sets."""
    engine = BENCH_ENGINE if git else CLONE_FREE_ENGINE
    # floor: bare chains doing the clone's git work (with ``git``); on_ours: bare chains
    # on this product's Redis transport, which is not stock Celery's (without it).
    ours: list[float] = []
    theirs: list[float] = []
    floor: list[float] = []
    on_ours: list[float] = []
    with Stack("throughput", TASK_EVENTS=str(events).lower(), ANALYSIS_ENGINE=engine) as s:
        worker = s.worker(2)
        bridge = s.bridge()
        # Both workers stay up, each idle on its own queue while the other works, and the
        # kinds of runs take turns: the machine's speed drifts over a minute, and turns
        # spread that drift over all of them alike.
        bare_worker = bare.start_worker(s.redis.url, 2, s.root / "bare.log", events=events)
        shared_worker = None
        if not git:
            shared_worker = bare.start_worker(
                s.redis.url, 2, s.root / "bare-shared.log", events=events, shared_client=True
            )
        try:
            s.wait_ready()
            bare.one_chain_s(s.redis.url, events=events)
            if shared_worker is not None:
                bare.run_chains(s.redis.url, 1, events=events, shared_client=True)
            # Redis and this process (which submits the jobs or sends the chains) share
            # the cores too, so they are counted beside the services.
            shared = {"redis": [s.redis_pid()], "driver": [os.getpid()]}
            our_cpu = cpu.Meter(
                {"worker": [worker.pid], "pool": cpu.children(worker.pid), "bridge": [bridge.pid]}
                | shared
            )
            pids = {"worker": [bare_worker.pid], "pool": cpu.children(bare_worker.pid)} | shared
            bare_cpu, floor_cpu = cpu.Meter(pids), cpu.Meter(pids)
            for _ in range(repeats):
                started = time.monotonic()
                with our_cpu.measuring():
                    ids = [s.submit() for _ in range(jobs)]
                    s.wait_done(ids)
                ours.append(jobs / (time.monotonic() - started))
                with bare_cpu.measuring():
                    theirs.append(jobs / bare.run_chains(s.redis.url, jobs, events=events))
                if git:
                    with floor_cpu.measuring():
                        floor.append(
                            jobs
                            / bare.run_chains(
                                s.redis.url, jobs, clone_from=s.repo_uri, events=events
                            )
                        )
                else:
                    on_ours.append(
                        jobs / bare.run_chains(s.redis.url, jobs, events=events, shared_client=True)
                    )
        finally:
            os.killpg(bare_worker.pid, 9)
            if shared_worker is not None:
                os.killpg(shared_worker.pid, 9)
    # Each round runs its series back to back, so a round's ratios share the machine's
    # speed of that moment; their median is the figure judged.
    rounds = [o / t for o, t in zip(ours, theirs, strict=True)]
    ratio = median(rounds)
    label = "task events on, as Flower needs" if events else "task events off"
    bare_label = "bare Celery" + (" with the same events" if events else "")
    units = jobs * repeats
    reference = f"{median(theirs):.1f} chains/s ({bare_label})"
    note = (
        f"ratio {ratio:.2f} to bare chains (median of the rounds' ratios:"
        f" {', '.join(f'{r:.2f}' for r in rounds)}; ratio of the median rates"
        f" {median(ours) / median(theirs):.2f}); {jobs} jobs x {repeats} rounds. CPU per job:"
        f" {_cpu_text(our_cpu.per_unit_ms(units))}; per bare chain:"
        f" {_cpu_text(bare_cpu.per_unit_ms(units))}"
    )
    if not git:
        to_shared = median([o / b for o, b in zip(ours, on_ours, strict=True)])
        note += (
            f". Beside bare chains on this product's Redis transport (tasks/worker/broker.py, one"
            f" client per channel; {median(on_ours):.1f} chains/s): ratio {to_shared:.2f}"
        )
        name = f"Throughput, zero-time steps (the clone included), 2 worker processes ({label})"
        rate = f"{median(ours):.1f} jobs/s"
        return [Row(name, rate, reference, "ratio >= 0.5", ratio >= 0.5, note)]
    to_floor = median([o / f for o, f in zip(ours, floor, strict=True)])
    floor_ratio = median([f / t for f, t in zip(floor, theirs, strict=True)])
    return [
        Row(
            f"Throughput, zero-time analysis steps, the clone running git, 2 worker processes"
            f" ({label})",
            f"{median(ours):.1f} jobs/s",
            f"{reference}; {median(floor):.1f} chains/s ({bare_label} + the clone's git commands)",
            "-",
            None,
            f"{note}; per bare chain with the git work: {_cpu_text(floor_cpu.per_unit_ms(units))}."
            f" Ratio {to_floor:.2f} to bare chains doing the same git work, whose own ratio to"
            f" bare chains is {floor_ratio:.2f}",
        )
    ]


def _cpu_text(per_job_ms: dict[str, float]) -> str:
    names = {
        "worker": "worker main process", "pool": "pool processes", "git": "git",
        "bridge": "bridge", "redis": "Redis", "driver": "the benchmark's own process",
    }  # fmt: skip
    parts = [f"{names[k]} {v:.0f} ms" for k, v in per_job_ms.items() if k in names]
    return ", ".join(parts) + f" (total {sum(per_job_ms.values()):.0f} ms)"


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def scaling(step_s: float = 0.1, jobs_per_process: int = 6) -> list[Row]:
    """100 ms steps with 1, 2, 4, 8 worker processes; machine CPU use beside each, and the
    same measure for bare Celery chains shaped like a job (the clone's git work, six
    100 ms tasks, a last one) on the same Redis.

    The machine saturates where linear scaling would need more CPU than it has: the CPU
    one job costs at 1 process, times the linear rate, over the 2 cores. Past that point
    throughput is capped by the cores, not by the orchestration, so efficiency is judged
    only below it (and where the measured CPU is below 85 %)."""
    results: dict[int, float] = {}
    busy: dict[int, float] = {}
    cpu_per_job: dict[int, float] = {}
    bare_rate: dict[int, float] = {}
    cores = os.cpu_count() or 1
    for n in (1, 2, 4, 8):
        with Stack(f"scale{n}", BENCH_STEP_S=str(step_s)) as s:
            s.worker(n)
            s.bridge()
            s.wait_ready(timeout_s=60)
            jobs = jobs_per_process * n
            b0, t0 = _cpu_ticks()
            started = time.monotonic()
            ids = [s.submit() for _ in range(jobs)]
            s.wait_done(ids)
            took = time.monotonic() - started
            results[n] = jobs / took
            b1, t1 = _cpu_ticks()
            busy[n] = (b1 - b0) / max(t1 - t0, 1)
            cpu_per_job[n] = busy[n] * cores * took / jobs
            for p in s.procs:
                p.stop()
            bare_rate[n] = _bare_scaling_rate(s, n, jobs, step_s)
    base = results[1]
    effs = {n: results[n] / (n * base) for n in results}
    bare_effs = {n: bare_rate[n] / (n * bare_rate[1]) for n in bare_rate}
    demand = {n: cpu_per_job[1] * n * base / cores for n in results}
    parts = [f"{n}: {v:.2f} jobs/s (efficiency {effs[n]:.2f}, CPU {busy[n]:.0%},"
             f" linear would need {demand[n]:.0%})"
             for n, v in results.items()]  # fmt: skip
    bare_parts = [f"{n}: {bare_rate[n]:.2f} chains/s (efficiency {bare_effs[n]:.2f})"
                  for n in bare_rate]  # fmt: skip
    # Below saturation by CPU, and where bare Celery itself still scales (>= 0.8): past
    # that point the machine, not the orchestration, sets the limit.
    unsaturated = [
        n for n in results if busy[n] < 0.85 and demand[n] < 0.85 and bare_effs[n] >= 0.8
    ]
    return [
        Row("Scaling, 100 ms steps, 1/2/4/8 worker processes", "; ".join(parts),
            "bare Celery chains shaped like a job: " + "; ".join(bare_parts),
            "efficiency >= 0.8 until the machine saturates",
            all(effs[n] >= 0.8 for n in unsaturated),
            f"CPU is the whole machine's busy share during the run ({cores} cores); one job"
            f" costs {cpu_per_job[1] * 1000:.0f} ms of CPU at 1 process; judged at"
            f" {', '.join(map(str, unsaturated))} process(es): below saturation by CPU and"
            f" where bare Celery keeps efficiency >= 0.8; ours over bare Celery's efficiency: "
            + ", ".join(f"{n}: {effs[n] / bare_effs[n]:.2f}" for n in results)
            + f"; {jobs_per_process} jobs per process")
    ]  # fmt: skip


def _bare_scaling_rate(s: Stack, n: int, chains: int, step_s: float) -> float:
    """Chains/s of bare Celery with ``n`` processes, chains shaped like a job."""
    worker = bare.start_worker(s.redis.url, n, s.root / "bare.log", events=True)
    try:
        bare.one_chain_s(s.redis.url, events=True)
        took = bare.run_chains(
            s.redis.url, chains, clone_from=s.repo_uri, pause_s=step_s,
            events=True,
        )  # fmt: skip
    finally:
        os.killpg(worker.pid, 9)
    return chains / took


def recovery(repeats: int) -> list[Row]:
    """Worker SIGKILL mid-step to the step's restart elsewhere (reliability scenario)."""
    from testbed.reliability.scenarios import worker_kill

    times = []
    for i in range(repeats):
        root = Path(f"/tmp/fondation-bench-recovery-{os.getpid()}-{i}")
        out = worker_kill(root, 3, quick=True)
        times.extend(out.recovery_s)
    return [
        Row(
            "Recovery after a worker SIGKILL",
            f"{median(times):.1f} s (max {max(times):.1f} s)",
            "300 s lease, then step 1 again (today)",
            "<= 2 x HEARTBEAT_INTERVAL (120 s)",
            median(times) <= 120,
            f"n={len(times)}; liveness 0.3 s in this scenario;"
            " backoff 5 s + 0-5 s jitter is most of it",
        )
    ]


_CLAIMER = """
import sys, time
from bridge.store.sqlite import SqliteStore
s = SqliteStore(sys.argv[1]); n = 0
while True:
    got = s.claim(sys.argv[2], 1, 60000, 10**13)
    if not got:
        break
    n += 1
print(n)
"""


def store(jobs: int = 2000) -> list[Row]:
    """Claims per second with 4 claimers on one SQLite file; cost of a progress write."""
    from bridge.store.records import JobSpec, RepositorySpec
    from bridge.store.sqlite import SqliteStore

    root = Path(f"/tmp/fondation-bench-store-{os.getpid()}")
    root.mkdir(parents=True, exist_ok=True)
    path = root / "claims.db"
    st = SqliteStore(path)
    repo = st.upsert_repository(RepositorySpec(user_id="u", name="r", full_name="o/r"), 1)
    for i in range(jobs):
        st.create_job(JobSpec(user_id="u", repository_id=repo.id), i)
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, str(path), f"b{i}"], stdout=subprocess.PIPE, text=True
        )
        for i in range(4)
    ]
    counts = [int(p.communicate()[0]) for p in procs]
    elapsed = time.monotonic() - started
    claimed = sum(counts)
    dup = claimed - jobs
    job, _ = st.create_job(JobSpec(user_id="u", repository_id=repo.id), 10**12)
    [c] = st.claim("w", 1, 60000, 10**13)
    # A job as far as step 4, with artifacts of a realistic size stored for steps 0-3.
    artifact = json.dumps({"text": "x" * 4000})
    for step in range(4):
        st.start_step(job.id, c.lease_token, step, "w", 10**13)
        st.finish_step(job.id, c.lease_token, step, artifact, 10**13)
    # Step 4 is started again and again (never finished, so each start writes); step 5's
    # artifact is stored again and again (each store writes it whole).
    starts, finishes = [], []
    for _ in range(300):
        t = time.perf_counter()
        st.start_step(job.id, c.lease_token, 4, "w", 10**13)
        starts.append((time.perf_counter() - t) * 1e6)
        t = time.perf_counter()
        st.finish_step(job.id, c.lease_token, 5, artifact, 10**13)
        finishes.append((time.perf_counter() - t) * 1e6)
    return [
        Row(
            "Store: claims/s, 4 claimers on one SQLite file",
            f"{claimed / elapsed:.0f} claims/s",
            "-",
            "-",
            dup == 0,
            f"{claimed} claims of {jobs} jobs, {dup} duplicates",
        ),
        Row(
            "Store: cost of a progress write (start_step, step 4 of a job)",
            f"{median(starts):.0f} us",
            "-",
            "-",
            None,
            f"p99 {pct(starts, 0.99):.0f} us; one transaction that writes the progress and"
            " reads back what the step needs (the job, its repository, the 4 earlier steps'"
            " 4 kB artifacts); WAL, synchronous=NORMAL",
        ),
        Row(
            "Store: cost of storing a step's artifact (finish_step, 4 kB)",
            f"{median(finishes):.0f} us",
            "-",
            "-",
            None,
            f"p99 {pct(finishes, 0.99):.0f} us",
        ),
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


def offline_engine(repo_root: Path) -> list[Row]:
    """All six offline steps on a repository of about 50,000 lines, in a fresh process."""
    code = f"""
import json, resource, sys, time
sys.path.insert(0, {str(Path.cwd())!r})
from bench.offline_run import run
lines, seconds = run({str(repo_root)!r})
print(json.dumps({{"lines": lines, "seconds": seconds,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    import json

    out = (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    data = json.loads(out)
    return [
        Row(
            "Offline engine, all six steps",
            f"{data['seconds']:.1f} s for"
            f" {data['lines']:,} lines ({data['lines'] / data['seconds']:,.0f} lines/s)",
            "-",
            "< 10 s for 50,000 lines",
            data["seconds"] < 10 * data["lines"] / 50_000,
            f"peak RSS {data['rss_mb']:.0f} MB",
        )
    ]


def fanout(delay_s: float = 0.3) -> list[Row]:
    """Chapters fanned out: steps 4 and 5 with 8 chapters, 4 at once vs one by one."""
    from bench.fanout_run import run_steps_4_5

    serial = run_steps_4_5(concurrency=1, delay_s=delay_s)
    parallel = run_steps_4_5(concurrency=4, delay_s=delay_s)
    ratio = parallel / serial
    return [
        Row(
            "Chapter fan-out, steps 4+5, 8 chapters, 4 at once",
            f"{parallel:.2f} s",
            f"{serial:.2f} s one after another",
            "<= 0.35x",
            ratio <= 0.35,
            f"ratio {ratio:.2f}; CLI double answers after {delay_s} s",
        )
    ]


def claude_cli() -> list[Row]:
    """A job of 8 chapters on the real Claude Code CLI against the scripted API (delays
    scaled from the seed's step times): every fan-out at once, the default 4, and one
    call at a time."""
    from bench.claude_cli_run import SCALE, ideal_s, run_job

    serial, calls = run_job(concurrency=1)
    fanned, _ = run_job(concurrency=8)
    default, _ = run_job(concurrency=4)
    ratio = fanned / serial
    return [
        Row(
            "Claude job on the real CLI, 8 chapters fanned out",
            f"{fanned:.1f} s",
            f"{serial:.1f} s one call at a time",
            "<= 0.4x",
            ratio <= 0.4,
            f"ratio {ratio:.2f} with CLAUDE_CHAPTER_CONCURRENCY=8 (the delays alone:"
            f" {ideal_s(8):.1f} s vs {ideal_s(1):.1f} s); {default:.1f} s, ratio"
            f" {default / serial:.2f}, at the default 4; {calls} calls; the scripted API"
            f" answers after the seed's 60/60/30/60/40/40 s per call scaled by {SCALE}",
        )
    ]


def machine() -> str:
    import platform

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB,"
        f" Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def convex_pickup(repeats: int) -> list[Row]:
    """Insert in Convex (as the web app does, no Redis announce) to first step start, on
    the stand-in: with the bridge's ready-job probe, and with polling alone."""
    import secrets as pysecrets

    from bridge.store.records import JobSpec, RepositorySpec
    from testbed.convex_standin.fixture import make_convex_store, start_standin, stop_standin

    results: dict[str, list[float]] = {}
    for label, interval in (("probe", "1.0"), ("polling", "0")):
        with Stack(f"convex-{label}") as s:
            proc, standin = start_standin(pysecrets.token_hex(16), s.root)
            try:
                env = {"JOB_STORE": "convex", "CONVEX_URL": standin.url,
                       "CONVEX_WORKER_SECRET": standin.secret,
                       "CONVEX_WATCH_INTERVAL": interval}  # fmt: skip
                s.worker(2, **env)
                s.bridge(**env)
                s.wait_ready()
                store = make_convex_store(standin.url, standin.secret)
                repo = store.upsert_repository(
                    RepositorySpec(user_id="web", name="shop", full_name="local/shop",
                                   default_branch="main", clone_url=str(s.repo)),
                    int(time.time() * 1000),
                )  # fmt: skip
                rng = random.Random(2)
                values = []
                for _ in range(repeats):
                    time.sleep(rng.uniform(0, 1.0))
                    job, _ = store.create_job(
                        JobSpec(user_id="web", repository_id=repo.id), int(time.time() * 1000)
                    )
                    services_wait(functools.partial(_is_final, store, job.id))
                    first = min(x.started_at for x in store.get_steps(job.id))
                    values.append(float(first - job.created_at))
                results[label] = values
            finally:
                stop_standin(proc)
    probe, polling = results["probe"], results["polling"]
    return [
        Row(
            "Pickup latency on Convex (stand-in), web-app insert",
            f"p50 {pct(probe, 0.5):.0f} ms, p99 {pct(probe, 0.99):.0f} ms",
            f"p50 {pct(polling, 0.5):.0f} ms (5 s polling alone)",
            "well under POLL_INTERVAL",
            pct(probe, 0.5) < 1000,
            f"probe every 1 s (CONVEX_WATCH_INTERVAL); n={repeats}",
        )
    ]


def services_wait(predicate: Callable[[], bool], timeout_s: float = 120) -> None:
    from testbed import services

    services.wait_for(predicate, timeout_s, "a Convex job", interval_s=0.05)


def _is_final(store: JobStore, job_id: str) -> bool:
    return store.get_job(job_id).is_final
