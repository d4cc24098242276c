"""`python -m bench.profile`: where the CPU of a job goes, by process and by function.

Runs the throughput benchmark's stack (zero-time steps, 2 worker processes), samples the
worker's main process, its pool processes and the bridge with py-spy while jobs run, and
prints the CPU each role spent per job and the functions that hold it. Samples are taken
only while a thread holds the GIL (``--gil``), so waiting on Redis, SQLite or git does not
count: what is printed is the Python work to cut.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import cpu
from bench.stack import CLONE_FREE_ENGINE, Stack

_ROLES = ("worker", "pool", "bridge")


def record(pids: dict[str, list[int]], out: Path, rate: int) -> list[subprocess.Popen[bytes]]:
    """Start one py-spy per process; each writes ``<role>-<pid>.txt`` in py-spy's raw
    format (one line per distinct stack, ';'-separated frames, then a count)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    spies = []
    for role, group in pids.items():
        for pid in group:
            output = out / f"{role}-{pid}.txt"
            argv = [spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
                    "--gil", "--nonblocking", "--output", str(output)]  # fmt: skip
            spies.append(
                subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
    return spies


def top_functions(files: list[Path], limit: int, below: float = 1.01) -> list[tuple[float, str]]:
    """Inclusive share of samples per function (each counted once per stack), leaving out
    functions at or above ``below``: the entry points every stack goes through."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for path in files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            total += int(count)
            # A frame reads "function (path:line)"; the line is dropped so calls add up.
            frames = {frame.rsplit(":", 1)[0] + ")" for frame in stack.split(";")}
            for frame in frames:
                counts[frame] += int(count)
    if not total:
        return []
    shares = [(n / total, frame) for frame, n in counts.most_common()]
    return [(share, frame) for share, frame in shares if share < below][:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=80)
    parser.add_argument("--events", action="store_true", help="send task events (Flower)")
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=Path(".fondation/profile"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    with Stack(
        "profile", TASK_EVENTS=str(args.events).lower(), ANALYSIS_ENGINE=CLONE_FREE_ENGINE
    ) as s:
        worker, bridge = s.worker(2), s.bridge()
        s.wait_ready()
        s.wait_done([s.submit() for _ in range(5)])  # warm: imports, connections
        pids = {"worker": [worker.pid], "pool": cpu.children(worker.pid), "bridge": [bridge.pid]}
        meter = cpu.Meter(pids)
        spies = record(pids, args.out, args.rate)
        time.sleep(1)  # py-spy attaches
        started = time.monotonic()
        with meter.measuring():
            s.wait_done([s.submit() for _ in range(args.jobs)])
        took = time.monotonic() - started
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            spy.wait(timeout=30)
    print(f"{args.jobs} jobs in {took:.1f} s ({args.jobs / took:.1f} jobs/s, slowed by sampling)")
    for role, ms in sorted(meter.per_unit_ms(args.jobs).items(), key=lambda kv: -kv[1]):
        print(f"  {role:<8} {ms:6.1f} ms of CPU per job")
    for role in _ROLES:
        files = sorted(args.out.glob(f"{role}-*.txt"))
        print(f"\n{role}: share of samples holding the GIL, by function (inclusive; the")
        print("  entry points that nearly every sample goes through are left out)")
        for share, frame in top_functions(files, args.top, below=0.85):
            print(f"  {share:6.1%}  {frame}")
    print(f"\nraw stacks: {args.out}/ (py-spy raw format; flamegraph.pl reads them)")


if __name__ == "__main__":
    main()
