"""Cloning with real git against repositories built in tmp_path (file:// transport only)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from checkout.clone import CloneResult, clone, ensure_checkout
from checkout.repo_url import RepoSource, validate_repo_url
from fondation.cancel import CancelToken
from fondation.errors import InvalidRepositoryURL, JobCanceled, PermanentError, TransientError

pytestmark = pytest.mark.integration

TOKEN = "ghp_" + "T0kEn" * 8


@dataclass
class Upstream:
    path: Path
    main: list[str]  # commits of main, oldest first
    feature: str  # head of branch "feature"
    source: RepoSource


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)


def local_source(path: Path) -> RepoSource:
    return validate_repo_url(str(path), allowed_hosts=frozenset(), allow_local=True)


def tree_stats(repo: Path, rev: str) -> tuple[int, int]:
    """Files and bytes of a commit's tree as git records them (submodules excluded)."""
    files = size = 0
    for line in git("ls-tree", "-r", "-l", rev, cwd=repo).splitlines():
        meta = line.split("\t", 1)[0].split()
        if meta[1] != "commit":
            files += 1
            size += int(meta[3])
    return files, size


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_clone(source: RepoSource, dest: Path, ref: str | None = None, **kw: object) -> CloneResult:
    args: dict[str, object] = {
        "depth": 1,
        "token": None,
        "cancel": CancelToken(),
        "timeout_s": 60.0,
        "max_bytes": 10_000_000,
    }
    args.update(kw)
    return clone(source, ref, dest, **args)  # type: ignore[arg-type]


def run_ensure(source: RepoSource, ref: str | None, commit: str, dest: Path, **kw: object) -> Path:
    args: dict[str, object] = {
        "depth": 1,
        "token": None,
        "cancel": CancelToken(),
        "timeout_s": 60.0,
        "max_bytes": 10_000_000,
    }
    args.update(kw)
    return ensure_checkout(source, ref, commit, dest, **args)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A global git config of the test's own, standing in for the operator's."""
    config = tmp_path / "global.gitconfig"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name, value in {
        "GIT_AUTHOR_NAME": "Ada",
        "GIT_AUTHOR_EMAIL": "ada@example.org",
        "GIT_COMMITTER_NAME": "Ada",
        "GIT_COMMITTER_EMAIL": "ada@example.org",
    }.items():
        monkeypatch.setenv(name, value)
    return config


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    lib = tmp_path / "lib"
    git("init", "-q", "-b", "main", str(lib), cwd=tmp_path)
    (lib / "lib.py").write_text("LIB = 1\n")
    commit_all(lib, "lib")

    repo = tmp_path / "upstream"
    git("init", "-q", "-b", "main", str(repo), cwd=tmp_path)
    (repo / "README.md").write_text("version one\n")
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("print('one')\n")
    first = commit_all(repo, "one")

    (repo / "src" / "app.py").write_text("print('two')\nprint('more')\n")
    (repo / "outside").symlink_to("/etc/passwd")
    (repo / "up").symlink_to("../../..")
    git(
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        str(lib),
        "vendor/lib",
        cwd=repo,
    )
    second = commit_all(repo, "two")

    (repo / "README.md").write_text("version three\n")
    third = commit_all(repo, "three")

    git("checkout", "-q", "-b", "feature", cwd=repo)
    (repo / "feature.txt").write_text("feature\n")
    feature = commit_all(repo, "feature")
    git("checkout", "-q", "main", cwd=repo)
    return Upstream(repo, [first, second, third], feature, local_source(repo))


@pytest.fixture
def slow_server(hermetic_git: Path, tmp_path: Path) -> Path:
    """Makes the serving side of every fetch hang; returns where it writes its pid."""
    pid_file = tmp_path / "hook.pid"
    hook = tmp_path / "slow-pack-objects"
    hook.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
    hook.chmod(0o755)
    hermetic_git.write_text(f"[uploadpack]\n\tpackObjectsHook = {hook}\n")
    return pid_file


# --- clone --------------------------------------------------------------------------


def test_a_clone_reports_the_branch_head_and_the_size_of_its_files(
    upstream: Upstream, tmp_path: Path
) -> None:
    dest = tmp_path / "job" / "checkout"

    result = run_clone(upstream.source, dest)

    assert result.commit == upstream.main[-1]
    assert (result.files, result.bytes) == tree_stats(upstream.path, upstream.main[-1])
    assert (dest / "README.md").read_text() == "version three\n"
    assert git("rev-parse", "HEAD", cwd=dest) == upstream.main[-1]
    assert leftovers(dest.parent) == ["checkout"]


def test_a_clone_is_shallow(upstream: Upstream, tmp_path: Path) -> None:
    dest = tmp_path / "checkout"
    run_clone(upstream.source, dest, depth=1)
    assert git("rev-list", "--count", "HEAD", cwd=dest) == "1"


def test_a_clone_of_a_branch_checks_out_that_branch(upstream: Upstream, tmp_path: Path) -> None:
    dest = tmp_path / "checkout"
    result = run_clone(upstream.source, dest, ref="feature")
    assert result.commit == upstream.feature
    assert (dest / "feature.txt").is_file()


def test_symlinks_stay_links_and_are_not_followed(upstream: Upstream, tmp_path: Path) -> None:
    dest = tmp_path / "checkout"
    result = run_clone(upstream.source, dest)

    assert os.readlink(dest / "outside") == "/etc/passwd"
    assert os.readlink(dest / "up") == "../../.."
    # The size counts the links themselves, not /etc/passwd or the folders above.
    assert result.bytes == tree_stats(upstream.path, "HEAD")[1]


def test_submodules_are_not_fetched(upstream: Upstream, tmp_path: Path) -> None:
    dest = tmp_path / "checkout"
    run_clone(upstream.source, dest)

    assert (dest / ".gitmodules").is_file()
    assert list((dest / "vendor" / "lib").iterdir()) == []
    assert not (dest / ".git" / "modules").exists()


def test_a_clone_replaces_what_was_at_dest(upstream: Upstream, tmp_path: Path) -> None:
    dest = tmp_path / "job" / "checkout"
    dest.mkdir(parents=True)
    (dest / "stale.txt").write_text("from a crashed run")

    run_clone(upstream.source, dest)

    assert not (dest / "stale.txt").exists()
    assert leftovers(dest.parent) == ["checkout"]


def test_a_missing_branch_is_a_permanent_error_and_leaves_nothing(
    upstream: Upstream, tmp_path: Path
) -> None:
    dest = tmp_path / "job" / "checkout"
    with pytest.raises(PermanentError, match="nope"):
        run_clone(upstream.source, dest, ref="nope")
    assert leftovers(dest.parent) == []


def test_a_repository_git_cannot_read_is_a_permanent_error(tmp_path: Path) -> None:
    hollow = tmp_path / "hollow"
    (hollow / ".git").mkdir(parents=True)  # passes the shape check, holds no repository

    with pytest.raises(PermanentError, match="does not appear to be a git repository"):
        run_clone(local_source(hollow), tmp_path / "job" / "checkout")
    assert leftovers(tmp_path / "job") == []


def test_a_repository_gone_since_validation_is_a_permanent_error(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    git("init", "-q", str(gone), cwd=tmp_path)
    source = local_source(gone)
    shutil.rmtree(gone)

    with pytest.raises(PermanentError, match="does not exist"):
        run_clone(source, tmp_path / "job" / "checkout")


def test_an_invalid_ref_is_refused_before_git_runs(upstream: Upstream, tmp_path: Path) -> None:
    dest = tmp_path / "job" / "checkout"
    for ref in ["--upload-pack=touch x", "a..b", "main\n", ""]:
        with pytest.raises(PermanentError, match="not a valid branch or tag name"):
            run_clone(upstream.source, dest, ref=ref)
    assert not dest.parent.exists()


# --- limits -------------------------------------------------------------------------


def test_a_repository_larger_than_max_bytes_is_refused_and_removed(tmp_path: Path) -> None:
    repo = tmp_path / "big"
    git("init", "-q", "-b", "main", str(repo), cwd=tmp_path)
    (repo / "big.bin").write_bytes(os.urandom(2_000_000))
    commit_all(repo, "big")
    dest = tmp_path / "job" / "checkout"

    with pytest.raises(PermanentError, match="repository too large"):
        run_clone(local_source(repo), dest, max_bytes=1_000_000)
    assert leftovers(dest.parent) == []


def test_a_git_bomb_is_refused_before_its_tree_is_written(tmp_path: Path) -> None:
    repo = tmp_path / "bomb"
    git("init", "-q", "-b", "main", str(repo), cwd=tmp_path)
    (repo / "laugh").write_text("ha" * 5_000)
    entry = git("hash-object", "-w", "laugh", cwd=repo)
    kind, mode = "blob", "100644"
    for _ in range(3):  # 10 x 10 x 10 names for one 10 kB blob: 10 MB from a tiny pack
        listing = "".join(f"{mode} {kind} {entry}\tx{i}\n" for i in range(10))
        entry = subprocess.run(
            ["git", "mktree"], cwd=repo, input=listing, capture_output=True, text=True, check=True
        ).stdout.strip()
        kind, mode = "tree", "040000"
    bomb = git("commit-tree", entry, "-m", "bomb", cwd=repo)
    git("update-ref", "refs/heads/main", bomb, cwd=repo)
    dest = tmp_path / "job" / "checkout"

    with pytest.raises(PermanentError, match="files add up to more than 1000000 bytes"):
        run_clone(local_source(repo), dest, max_bytes=1_000_000)
    assert leftovers(dest.parent) == []


def test_a_bomb_of_empty_files_is_refused_by_the_file_count(tmp_path: Path) -> None:
    repo = tmp_path / "empties"
    git("init", "-q", "-b", "main", str(repo), cwd=tmp_path)
    empty = git("hash-object", "-w", "--stdin", cwd=repo)  # the empty blob, stored once
    listing = "".join(f"100644 blob {empty}\tf{i}\n" for i in range(500))
    tree = subprocess.run(
        ["git", "mktree"], cwd=repo, input=listing, capture_output=True, text=True, check=True
    ).stdout.strip()
    git("update-ref", "refs/heads/main", git("commit-tree", tree, "-m", "empties", cwd=repo),
        cwd=repo)  # fmt: skip
    dest = tmp_path / "job" / "checkout"

    with pytest.raises(PermanentError, match="more than 100 files"):
        run_clone(local_source(repo), dest, max_files=100)
    assert leftovers(dest.parent) == []
    assert run_clone(local_source(repo), dest, max_files=1000).files == 500


def test_files_enlarged_by_a_filter_are_caught_after_checkout(
    hermetic_git: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "filtered"
    git("init", "-q", "-b", "main", str(repo), cwd=tmp_path)
    (repo / ".gitattributes").write_text("*.txt filter=grow\n")
    (repo / "small.txt").write_text("small\n")
    commit_all(repo, "filtered")
    hermetic_git.write_text(
        '[filter "grow"]\n\tsmudge = "cat >/dev/null; head -c 2000000 /dev/zero"\n'
    )
    dest = tmp_path / "job" / "checkout"

    with pytest.raises(PermanentError, match="its checkout holds more than"):
        run_clone(local_source(repo), dest, max_bytes=1_000_000)
    assert leftovers(dest.parent) == []


def test_a_clone_can_be_canceled_from_another_thread(
    upstream: Upstream, slow_server: Path, tmp_path: Path
) -> None:
    cancel = CancelToken()

    def cancel_once_git_is_busy() -> None:
        deadline = time.monotonic() + 30
        while not slow_server.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        cancel.cancel("canceled by the user")

    canceller = threading.Thread(target=cancel_once_git_is_busy, daemon=True)
    canceller.start()
    dest = tmp_path / "job" / "checkout"
    started = time.monotonic()

    with pytest.raises(JobCanceled, match="canceled by the user"):
        run_clone(upstream.source, dest, cancel=cancel)

    assert time.monotonic() - started < 20
    canceller.join()
    assert not alive(int(slow_server.read_text()))
    assert leftovers(dest.parent) == []


def test_a_clone_slower_than_the_timeout_is_killed_and_is_transient(
    upstream: Upstream, slow_server: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "job" / "checkout"
    with pytest.raises(TransientError, match="timed out after 1 s"):
        run_clone(upstream.source, dest, timeout_s=1.0)
    assert not alive(int(slow_server.read_text()))
    assert leftovers(dest.parent) == []


def test_a_canceled_job_does_not_start_git(upstream: Upstream, tmp_path: Path) -> None:
    cancel = CancelToken()
    cancel.cancel("canceled before the step ran")
    dest = tmp_path / "job" / "checkout"
    with pytest.raises(JobCanceled):
        run_clone(upstream.source, dest, cancel=cancel)
    assert not dest.parent.exists()


# --- secrets and hostile configuration ------------------------------------------------


def test_the_token_is_never_written_under_the_checkout(upstream: Upstream, tmp_path: Path) -> None:
    dest = tmp_path / "checkout"
    run_clone(upstream.source, dest, token=TOKEN)

    header = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    for path in dest.rglob("*"):
        if path.is_file() and not path.is_symlink():
            content = path.read_bytes()
            assert TOKEN.encode() not in content, path
            assert header.encode() not in content, path
    assert "extraheader" not in (dest / ".git" / "config").read_text().lower()
    assert git("remote", "get-url", "origin", cwd=dest) == upstream.path.as_uri()


def test_hooks_of_the_operator_config_do_not_run(
    upstream: Upstream, hermetic_git: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "hook-ran"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "post-checkout").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (hooks / "post-checkout").chmod(0o755)
    hermetic_git.write_text(f"[core]\n\thooksPath = {hooks}\n")
    git("clone", "-q", upstream.path.as_uri(), str(tmp_path / "plain"), cwd=tmp_path)
    assert marker.exists(), "the hook should run in a plain clone, or this test proves nothing"
    marker.unlink()

    run_clone(upstream.source, tmp_path / "checkout")

    assert not marker.exists()


def test_git_refuses_a_transport_that_config_rewrites_the_url_to(
    upstream: Upstream, hermetic_git: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "ext-ran"
    hermetic_git.write_text(
        "[protocol]\n\tallow = always\n"
        f'[url "ext::sh -c touch% {marker}% &&% false"]\n\tinsteadOf = {upstream.path.as_uri()}\n'
    )
    plain = subprocess.run(
        ["git", "clone", "-q", upstream.path.as_uri(), str(tmp_path / "plain")],
        capture_output=True,
        check=False,
    )
    assert plain.returncode != 0
    assert marker.exists(), "a plain clone should run ext::, or this test proves nothing"
    marker.unlink()

    with pytest.raises(PermanentError, match="not allowed"):
        run_clone(upstream.source, tmp_path / "checkout")
    assert not marker.exists()


@pytest.mark.parametrize(
    "source",
    [
        RepoSource(kind="https", url="ext::sh -c touch% MARKER", display="x"),
        RepoSource(kind="https", url="--upload-pack=touch MARKER", display="x"),
        RepoSource(kind="https", url="https://user:pw@github.com/o/r", display="x"),
        RepoSource(kind="local", url="--upload-pack=touch MARKER", display="x"),
        RepoSource(kind="local", url="https://github.com/o/r", display="x"),
    ],
)
def test_a_hand_built_source_is_checked_again_before_git_runs(
    source: RepoSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    dest = tmp_path / "job" / "checkout"
    with pytest.raises(InvalidRepositoryURL):
        run_clone(source, dest)
    assert not dest.parent.exists()
    assert not (tmp_path / "MARKER").exists()


def test_a_refused_url_never_runs_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for raw in ["ext::sh -c touch% MARKER", "--upload-pack=touch MARKER", "fd::0"]:
        with pytest.raises(InvalidRepositoryURL):
            validate_repo_url(raw, allowed_hosts=frozenset({"github.com"}), allow_local=True)
    assert list(tmp_path.iterdir()) == [tmp_path / "global.gitconfig"]


# --- ensure_checkout ------------------------------------------------------------------


def test_ensure_checkout_recreates_a_commit_older_than_the_branch_head(
    upstream: Upstream, tmp_path: Path
) -> None:
    dest = tmp_path / "job" / "checkout"

    path = run_ensure(upstream.source, "main", upstream.main[0], dest)

    assert path == dest
    assert git("rev-parse", "HEAD", cwd=dest) == upstream.main[0]
    assert (dest / "README.md").read_text() == "version one\n"
    assert not (dest / "outside").exists()
    assert leftovers(dest.parent) == ["checkout"]


def test_ensure_checkout_keeps_a_checkout_already_at_the_commit(
    upstream: Upstream, tmp_path: Path
) -> None:
    dest = tmp_path / "checkout"
    run_clone(upstream.source, dest)
    (dest / "marker").write_text("kept")

    run_ensure(upstream.source, "main", upstream.main[-1], dest)

    assert (dest / "marker").read_text() == "kept"


def test_ensure_checkout_replaces_a_checkout_at_another_commit(
    upstream: Upstream, tmp_path: Path
) -> None:
    dest = tmp_path / "checkout"
    run_clone(upstream.source, dest)

    run_ensure(upstream.source, "main", upstream.main[1], dest)

    assert git("rev-parse", "HEAD", cwd=dest) == upstream.main[1]
    assert (dest / "README.md").read_text() == "version one\n"
    assert git("rev-list", "--count", "HEAD", cwd=dest) == "1"  # fetched by id, shallow


def test_ensure_checkout_deepens_when_the_server_refuses_a_commit_by_id(
    upstream: Upstream, hermetic_git: Path, tmp_path: Path
) -> None:
    # Protocol v0 servers refuse to send commits that no ref points at.
    hermetic_git.write_text("[protocol]\n\tversion = 0\n")
    dest = tmp_path / "checkout"

    run_ensure(upstream.source, "main", upstream.main[1], dest)

    assert git("rev-parse", "HEAD", cwd=dest) == upstream.main[1]
    # Two commits of history: the deepened fetch, not a fetch by id at depth 1.
    assert git("rev-list", "--count", "HEAD", cwd=dest) == "2"


def test_ensure_checkout_of_an_unknown_commit_is_a_permanent_error(
    upstream: Upstream, tmp_path: Path
) -> None:
    dest = tmp_path / "job" / "checkout"
    with pytest.raises(PermanentError, match="is not in the history of branch 'main'"):
        run_ensure(upstream.source, "main", "0" * 39 + "1", dest)
    assert leftovers(dest.parent) == []


def test_ensure_checkout_refuses_an_abbreviated_commit(upstream: Upstream, tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="not a full commit id"):
        run_ensure(upstream.source, "main", upstream.main[0][:12], tmp_path / "checkout")
