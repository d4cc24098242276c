"""The per-job folder: naming, claiming, removal, and the clean-up of dead workers' folders."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from checkout.workspace import Workspace, remove_tree
from testbed import services


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def owned_by(workspace: Workspace, job_id: str, owner: str) -> Path:
    path = workspace.claim(job_id)
    (path / "owner").write_text(owner)
    (path / "checkout").mkdir()
    (path / "checkout" / "file.txt").write_text("x")
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "fondation")


def test_folders_are_named_after_the_job(workspace: Workspace, tmp_path: Path) -> None:
    jobs = tmp_path / "fondation" / "jobs"
    assert workspace.job_dir("jd7abc_1-2") == jobs / "jd7abc_1-2"
    assert workspace.checkout_dir("jd7abc") == jobs / "jd7abc" / "checkout"
    assert workspace.scratch_dir("jd7abc") == jobs / "jd7abc" / "scratch"


@pytest.mark.parametrize(
    "job_id",
    ["../../etc", "/etc/passwd", "..", ".", "", "a/b", "a\x00b", "\u00e9t\u00e9", "x" * 500],
)
def test_any_job_id_gets_a_folder_inside_the_jobs_folder(workspace: Workspace, job_id: str) -> None:
    path = workspace.job_dir(job_id)
    assert path.parent == workspace.jobs_dir
    assert path.name not in {"", ".", ".."}
    assert "/" not in path.name
    assert "\x00" not in path.name
    assert len(path.name) <= 100


def test_different_job_ids_never_share_a_folder(workspace: Workspace) -> None:
    ids = ["a/b", "a_b", "a.b", "a b", "a%2Fb", "A_B", "a_b.0123456789abcdef0123456789abcdef"]
    names = {workspace.job_dir(job_id).name for job_id in ids}
    assert len(names) == len(ids)


def test_claim_creates_the_folder_and_records_this_process(workspace: Workspace) -> None:
    path = workspace.claim("job-1")
    assert path == workspace.job_dir("job-1")
    assert (path / "owner").read_text() == f"{socket.gethostname()}:{os.getpid()}"


def test_claiming_twice_keeps_the_folder_and_its_content(workspace: Workspace) -> None:
    path = workspace.claim("job-1")
    (path / "keep.txt").write_text("x")
    assert workspace.claim("job-1") == path
    assert (path / "keep.txt").exists()


@pytest.fixture(params=["remove", "discard"])
def remove(request: pytest.FixtureRequest, workspace: Workspace) -> Callable[[str], None]:
    """Removes a job's folder the one way or the other: ``discard`` renames it away at
    once and deletes its files in the background, which is waited for here."""

    def run(job_id: str) -> None:
        getattr(workspace, request.param)(job_id)
        assert not os.path.lexists(workspace.job_dir(job_id))
        if request.param == "discard" and workspace.trash_dir.exists():
            trash = workspace.trash_dir
            services.wait_for(lambda: not any(trash.iterdir()), 10, "the trash to empty")

    return run


def test_remove_is_idempotent(workspace: Workspace, remove: Callable[[str], None]) -> None:
    workspace.claim("job-1")
    remove("job-1")
    remove("job-1")
    remove("never-claimed")
    assert not workspace.job_dir("job-1").exists()


def test_remove_deletes_read_only_files_and_folders(
    workspace: Workspace, remove: Callable[[str], None]
) -> None:
    path = workspace.claim("job-1")
    pack = path / "checkout" / ".git" / "objects" / "pack"
    pack.mkdir(parents=True)
    (pack / "pack-1.pack").write_bytes(b"x")
    (pack / "pack-1.pack").chmod(stat.S_IRUSR)
    pack.chmod(stat.S_IRUSR | stat.S_IXUSR)
    locked = path / "scratch" / "locked"
    locked.mkdir(parents=True)
    (locked / "f").write_text("x")
    locked.chmod(0)

    remove("job-1")

    assert not path.exists()


def test_remove_deletes_a_symlink_without_following_it(
    workspace: Workspace, tmp_path: Path, remove: Callable[[str], None]
) -> None:
    target = tmp_path / "precious"
    target.mkdir()
    (target / "data").write_text("keep me")
    workspace.jobs_dir.mkdir(parents=True)
    workspace.job_dir("job-1").symlink_to(target)

    remove("job-1")

    assert not workspace.job_dir("job-1").is_symlink()
    assert (target / "data").read_text() == "keep me"


def test_clean_stale_empties_the_trash_a_dead_process_left(workspace: Workspace) -> None:
    left = workspace.trash_dir / "job-1.0123456789ab" / "checkout"
    left.mkdir(parents=True)
    (left / "file.txt").write_text("x")

    workspace.clean_stale()

    assert not any(workspace.trash_dir.iterdir())


def test_clean_stale_removes_folders_of_dead_processes_of_this_host(
    workspace: Workspace,
) -> None:
    host = socket.gethostname()
    dead = owned_by(workspace, "dead-job", f"{host}:{dead_pid()}")
    alive = owned_by(workspace, "live-job", f"{host}:{os.getpid()}")

    removed = workspace.clean_stale()

    assert removed == ["dead-job"]
    assert not dead.exists()
    assert (alive / "checkout" / "file.txt").exists()


def test_clean_stale_reports_the_original_job_id(workspace: Workspace) -> None:
    owned_by(workspace, "odd/job id", f"{socket.gethostname()}:{dead_pid()}")
    assert workspace.clean_stale() == ["odd/job id"]


def test_clean_stale_leaves_other_hosts_and_unclaimed_folders_alone(
    workspace: Workspace,
) -> None:
    other_host = owned_by(workspace, "other-host", f"another-host:{dead_pid()}")
    unclaimed = workspace.jobs_dir / "unclaimed"
    unclaimed.mkdir()
    garbled = owned_by(workspace, "garbled", "not an owner")

    assert workspace.clean_stale() == []
    assert other_host.exists()
    assert unclaimed.exists()
    assert garbled.exists()


def test_clean_stale_without_a_jobs_folder_does_nothing(workspace: Workspace) -> None:
    assert workspace.clean_stale() == []


def test_remove_tree_of_a_missing_path_does_nothing(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "file.txt").write_text("x")
    before = sorted(tmp_path.rglob("*"))
    # No error, and nothing made or removed beside it: a missing path, and one under a
    # missing folder.
    remove_tree(tmp_path / "missing")
    remove_tree(tmp_path / "missing" / "deeper")
    assert sorted(tmp_path.rglob("*")) == before
    assert (kept / "file.txt").read_text() == "x"


def test_a_claim_names_the_given_owner_process_so_pool_children_share_it(
    tmp_path: Path,
) -> None:
    main_pid = os.getppid()  # stands for a worker's main process
    child_view = Workspace(tmp_path / "fondation", owner_pid=main_pid)
    path = child_view.claim("job-1")
    assert (path / "owner").read_text() == f"{socket.gethostname()}:{main_pid}"
    before = (path / "owner").stat().st_mtime_ns
    assert Workspace(tmp_path / "fondation", owner_pid=main_pid).claim("job-1") == path
    assert (path / "owner").stat().st_mtime_ns == before, "a claim already held was rewritten"


def test_clean_stale_at_start_counts_folders_of_the_same_pid_as_an_earlier_run(
    workspace: Workspace,
) -> None:
    host = socket.gethostname()
    earlier_run = owned_by(workspace, "crashed-job", f"{host}:{os.getpid()}")
    other_live = owned_by(workspace, "live-job", f"{host}:{os.getppid()}")

    assert workspace.clean_stale(starting_pid=os.getpid()) == ["crashed-job"]
    assert not earlier_run.exists()
    assert (other_live / "checkout" / "file.txt").exists()
