"""The bubblewrap fence on its own, with plain tools in place of the CLI: inside, the
checkout is readable and read-only, and other jobs, the worker's files and processes are
not there at all."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from analysis.claude.sandbox import PROC_MASKED_DIRS, PROC_MASKED_FILES, resolve_bin, wrap
from tests.integration.claude_cli.conftest import OTHER_JOB_SECRET, Jobs

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def _inside(jobs: Jobs, home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    cmd = wrap([resolve_bin(argv[0]), *argv[1:]], bwrap="bwrap", checkout=jobs.checkout, home=home)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def home(tmp_path: Path, jobs: Jobs) -> Path:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    path = tmp_path / "home"
    path.mkdir()
    probe = _inside(jobs, path, "true")
    if probe.returncode != 0:
        pytest.skip(f"bubblewrap cannot run here: {probe.stderr.strip()}")
    return path


def test_inside_the_sandbox_only_the_checkout_and_the_home_are_there(
    jobs: Jobs, home: Path
) -> None:
    assert "class Cart" in _inside(jobs, home, "cat", "shop/cart.py").stdout
    for hidden in (
        jobs.other_checkout / "secret.py",
        jobs.root / "job-b",
        REPO / "fondation" / "settings.py",
        Path("/etc/hostname"),
        Path(os.environ.get("HOME", "/root")),
    ):
        done = _inside(jobs, home, "ls", str(hidden))
        assert done.returncode != 0, hidden
        assert OTHER_JOB_SECRET not in done.stdout
    # The folders above the checkout exist only as the path to it.
    assert _inside(jobs, home, "ls", str(jobs.root)).stdout.split() == ["job-a"]
    assert _inside(jobs, home, "ls", str(jobs.checkout.parent)).stdout.split() == ["checkout"]


def test_inside_the_sandbox_the_checkout_is_read_only_and_the_home_writable(
    jobs: Jobs, home: Path
) -> None:
    assert _inside(jobs, home, "touch", "planted.py").returncode != 0
    assert not (jobs.checkout / "planted.py").exists()
    assert _inside(jobs, home, "touch", str(home / "session.json")).returncode == 0


def test_inside_the_sandbox_no_process_of_the_worker_is_visible(jobs: Jobs, home: Path) -> None:
    pids = [p for p in _inside(jobs, home, "ls", "/proc").stdout.split() if p.isdigit()]
    # bwrap's init and the ls itself, in a pid namespace of their own.
    assert 1 <= len(pids) <= 3, pids


def test_a_cli_installed_under_tmp_still_runs_inside_the_sandbox(
    jobs: Jobs, home: Path, tmp_path: Path
) -> None:
    """The sandbox's own /tmp must not hide the CLI: a checkout of this project (and so
    its pinned CLI) may live under /tmp, as CI's fresh clone may."""
    tool = tmp_path / "tools" / "echo"
    tool.parent.mkdir()
    shutil.copy2(shutil.which("echo") or "/bin/echo", tool)
    assert str(tool).startswith("/tmp/")
    done = _inside(jobs, home, str(tool), "still here")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "still here"


def test_inside_the_sandbox_the_proc_entries_runtimes_mask_are_masked(
    jobs: Jobs, home: Path
) -> None:
    """A container that unmasks /proc so that bubblewrap can mount one gets its masks
    back inside: the CLI reads nothing of these, whatever the worker around it sees."""
    present = [p for p in PROC_MASKED_FILES if os.path.exists(p)]
    present_dirs = [p for p in PROC_MASKED_DIRS if os.path.isdir(p)]
    assert present or present_dirs, "this kernel has none of the masked entries"
    for path in present:
        done = _inside(jobs, home, "cat", path)
        assert done.returncode != 0 or done.stdout == "", (path, done.stdout[:200])
    for path in present_dirs:
        assert _inside(jobs, home, "ls", "-A", path).stdout.split() == [], path
    # What the CLI needs of /proc stays: its own status, the cpus.
    assert "Pid:" in _inside(jobs, home, "cat", "/proc/self/status").stdout
    assert "processor" in _inside(jobs, home, "cat", "/proc/cpuinfo").stdout
