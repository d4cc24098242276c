"""The benchmarks' CPU meter: it must charge a process's own work to its group and the
work of children it reaped to "git", and add up across segments."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from bench.cpu import Meter, children

_BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"


def _burn_in_child(seconds: float) -> None:
    subprocess.run([sys.executable, "-c", _BURN.format(s=seconds)], check=True)


def _burn_here(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_the_meter_splits_own_cpu_from_reaped_children() -> None:
    meter = Meter({"me": [os.getpid()]})
    with meter.measuring():
        _burn_here(0.3)
        _burn_in_child(0.3)
    assert 0.25 <= meter.spent["me"] < 1.0
    assert 0.25 <= meter.spent["git"] < 1.0


def test_segments_add_up() -> None:
    meter = Meter({"me": [os.getpid()]})
    for _ in range(2):
        with meter.measuring():
            _burn_here(0.2)
    assert 0.35 <= meter.spent["me"] < 1.0
    assert meter.per_unit_ms(2)["me"] == meter.spent["me"] * 1000 / 2


# A child that starts a grandchild, prints its pid and waits.
_PARENT = (
    "import subprocess, sys, time\n"
    "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
    "print(g.pid, flush=True)\n"
    "try:\n    time.sleep(30)\nfinally:\n    g.kill()\n"
)


def test_children_lists_direct_children_only() -> None:
    proc = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True)
    grandchild = 0
    try:
        assert proc.stdout is not None
        grandchild = int(proc.stdout.readline())
        mine = children(os.getpid())
        assert proc.pid in mine
        assert grandchild not in mine
        assert children(proc.pid) == [grandchild]
    finally:
        proc.kill()
        proc.wait()
        if grandchild:
            with contextlib.suppress(ProcessLookupError):
                os.kill(grandchild, signal.SIGKILL)
