"""Cloning a repository, and re-creating a checkout at a recorded commit.

Git runs through ``GitRunner`` (checkout/runner.py): a hardened environment, a process
group of its own, cancel and a deadline. Before the working tree is written, the sizes of
the commit's blobs are summed from ``git ls-tree`` and the checkout is refused when they
exceed ``max_bytes`` (checkout/tree_size.py); that stops a git bomb (a tiny pack whose
trees repeat one blob millions of times) before it fills the disk. The written tree is
measured again, since filters (LFS, smudge) can enlarge files.

Work happens in a fresh sibling folder of ``dest`` that is renamed onto ``dest`` at the
end: a crash leaves a complete checkout or none at ``dest``, and running either function
twice leaves one complete checkout. (Leftover sibling folders are removed with the job
folder.)
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from checkout.repo_url import RepoSource, redact, validate_repo_url
from checkout.runner import GitRunner, network_failure
from checkout.tree_size import TreeBudget, measure_tree
from checkout.workspace import remove_tree
from fondation.cancel import CancelToken
from fondation.errors import (
    InvalidRepositoryURL,
    PermanentError,
    TransientError,
)

# Deepening steps tried, after fetching the commit by id, when the server refuses that.
_DEEPEN_BY = 100

DEFAULT_MAX_FILES = 200_000
_COMMIT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_BAD_REF_PARTS = re.compile(r"\.\.|@\{|//|/\.|[~^:?*\[\\]")


@dataclass(frozen=True)
class CloneResult:
    commit: str
    files: int
    bytes: int


def clone(
    source: RepoSource,
    ref: str | None,
    dest: Path,
    *,
    depth: int,
    token: str | None,
    cancel: CancelToken,
    timeout_s: float,
    max_bytes: int,
    max_files: int = DEFAULT_MAX_FILES,
) -> CloneResult:
    """Shallow-clone ``ref`` (or the default branch) into ``dest``, replacing what is there.

    The checkout is detached at the commit it reports.
    """
    url = _git_url(source)
    _check_ref(ref)
    _check_depth(depth)
    cancel.check()
    runner = GitRunner(source, token, cancel, timeout_s)
    with _staging(dest) as work:
        _clone_shallow(runner, url, ref, work, depth)
        commit = _read_head(work) or runner.output(
            ["rev-parse", "--verify", "HEAD^{commit}"], work, "rev-parse"
        )
        result = _check_out(runner, work, commit, max_bytes, max_files)
        _install(work, dest)
    return result


def ensure_checkout(
    source: RepoSource,
    ref: str | None,
    commit: str,
    dest: Path,
    *,
    depth: int,
    token: str | None,
    cancel: CancelToken,
    timeout_s: float,
    max_bytes: int,
    max_files: int = DEFAULT_MAX_FILES,
) -> Path:
    """Return ``dest`` holding a checkout at exactly ``commit``, cloning it if needed.

    A checkout already at ``commit`` is kept as it is. Otherwise ``ref`` is cloned
    shallowly and ``commit`` fetched by id; servers that refuse a fetch by id get the
    history deepened, then unshallowed, until the commit is there.
    """
    url = _git_url(source)
    _check_ref(ref)
    _check_depth(depth)
    commit = commit.lower()
    if not _COMMIT_ID.fullmatch(commit):
        raise PermanentError(f"recorded commit {commit[:80]!r} is not a full commit id")
    cancel.check()
    runner = GitRunner(source, token, cancel, timeout_s)
    if _head_of(runner, dest) == commit:
        return dest
    with _staging(dest) as work:
        _clone_shallow(runner, url, ref, work, depth)
        _fetch_commit(runner, work, commit, depth=depth, ref=ref, display=source.display)
        _check_out(runner, work, commit, max_bytes, max_files)
        _install(work, dest)
    return dest


# --- the steps ----------------------------------------------------------------------


def _clone_shallow(runner: GitRunner, url: str, ref: str | None, work: Path, depth: int) -> None:
    args = [
        "clone",
        "--quiet",
        "--no-checkout",
        f"--depth={depth}",
        "--single-branch",
        "--no-tags",
        "--no-recurse-submodules",
        "--template=",  # no template hooks or files from the host's git installation
    ]
    if ref is not None:
        args.append(f"--branch={ref}")
    runner.check(runner.run([*args, "--", url, str(work)], work.parent), "clone")


def _fetch_commit(
    runner: GitRunner, work: Path, commit: str, *, depth: int, ref: str | None, display: str
) -> None:
    attempts = (
        [f"--depth={depth}", "--", "origin", commit],
        [f"--deepen={_DEEPEN_BY}", "--", "origin"],
        ["--unshallow", "--", "origin"],
    )
    for attempt in attempts:
        if _has_commit(runner, work, commit):
            return
        result = runner.run(
            ["fetch", "--quiet", "--no-tags", "--recurse-submodules=no", *attempt], work
        )
        if result.rc != 0 and network_failure(result.stderr):
            runner.check(result, "fetch")
        # Any other failure (a server refusing fetches by id, "--unshallow on a complete
        # repository") only means this way did not work: try the next.
    if not _has_commit(runner, work, commit):
        where = f"branch {ref!r}" if ref else "the default branch"
        raise PermanentError(f"commit {commit} is not in the history of {where} of {display}")


def _has_commit(runner: GitRunner, work: Path, commit: str) -> bool:
    return runner.run(["cat-file", "-e", f"{commit}^{{commit}}"], work).rc == 0


def _check_out(
    runner: GitRunner, work: Path, commit: str, max_bytes: int, max_files: int
) -> CloneResult:
    budget = TreeBudget(max_bytes, max_files)
    listing = runner.run(["ls-tree", "-r", "-l", "-z", commit], work, sink=budget)
    runner.check(listing, "ls-tree")
    runner.check(runner.run(["checkout", "--quiet", "--force", commit], work), "checkout")
    files, size = measure_tree(work, max_bytes)
    head = _head_of(runner, work)
    if head != commit:
        raise TransientError(f"checkout ended at {head}, not at {commit}")
    return CloneResult(commit=commit, files=files, bytes=size)


def _read_head(work: Path) -> str | None:
    """The commit HEAD names in a fresh clone, read from its files: one git process less
    per clone. None when the layout is not the simple one (then git is asked)."""
    git_dir = work / ".git"
    try:
        head = (git_dir / "HEAD").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if _COMMIT_ID.fullmatch(head):
        return head
    if not head.startswith("ref: refs/"):
        return None
    ref = head.removeprefix("ref: ")
    try:
        loose = (git_dir / ref).read_text(encoding="ascii").strip()
        return loose if _COMMIT_ID.fullmatch(loose) else None
    except (OSError, UnicodeDecodeError):
        pass
    try:
        packed = (git_dir / "packed-refs").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    for line in packed.splitlines():
        sha, _, name = line.partition(" ")
        if name == ref and _COMMIT_ID.fullmatch(sha):
            return sha
    return None


def checked_out_at(dest: Path, commit: str) -> bool:
    """True when ``dest`` holds our detached checkout of ``commit``, read from its files
    alone (no git process, no repository lookup): the question every step asks first."""
    return _detached_head(dest) == commit.lower()


def _detached_head(dest: Path) -> str | None:
    if not (dest / ".git").is_dir() or dest.is_symlink():
        return None  # without this check git would look for a repository in the parents
    # Our checkouts are detached, so .git/HEAD holds the commit id itself.
    try:
        head = (dest / ".git" / "HEAD").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return head if _COMMIT_ID.fullmatch(head) else None


def _head_of(runner: GitRunner, dest: Path) -> str | None:
    """The commit of the checkout at ``dest``, or None when there is none."""
    # Reading a detached HEAD saves a git process; anything else is asked of git.
    head = _detached_head(dest)
    if head is not None:
        return head
    if not (dest / ".git").is_dir() or dest.is_symlink():
        return None
    result = runner.run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], dest)
    return result.stdout.strip() if result.rc == 0 else None


@contextlib.contextmanager
def _staging(dest: Path) -> Iterator[Path]:
    """A fresh sibling folder of ``dest``, removed unless it was installed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.clone-", dir=dest.parent))
    try:
        yield work
    finally:
        remove_tree(work)


def _install(work: Path, dest: Path) -> None:
    if dest.exists() or dest.is_symlink():
        old = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(dest, old)
        os.replace(work, dest)
        remove_tree(old)
    else:
        os.replace(work, dest)


# --- checks of the arguments --------------------------------------------------------


def _git_url(source: RepoSource) -> str:
    """Check ``source`` again, since anyone can build one, and return what git is given."""
    if source.kind == "https":
        host = source.url.removeprefix("https://").partition("/")[0]
        checked = validate_repo_url(source.url, allowed_hosts=frozenset({host}), allow_local=False)
    else:
        checked = validate_repo_url(source.url, allowed_hosts=frozenset(), allow_local=True)
    if checked.kind != source.kind or checked.url != source.url:
        raise InvalidRepositoryURL(
            f"repository URL refused: {redact(source.display)!r} is not a validated"
            f" {source.kind} source"
        )
    # A plain path would make git copy or hard-link the object files directly, ignoring
    # --depth and following symlinks inside the source's .git; file:// goes through
    # upload-pack like any remote.
    return checked.url if checked.kind == "https" else Path(checked.url).as_uri()


def _check_ref(ref: str | None) -> None:
    if ref is None:
        return
    if (
        not ref
        or len(ref) > 255
        or ref.startswith(("-", "/", "."))
        or ref.endswith(("/", ".", ".lock"))
        or _BAD_REF_PARTS.search(ref)
        or any(ord(char) <= 0x20 or ord(char) == 0x7F for char in ref)
    ):
        raise PermanentError(f"ref {ref[:80]!r} is not a valid branch or tag name")


def _check_depth(depth: int) -> None:
    if depth < 1:
        raise ValueError(f"clone depth must be at least 1, got {depth}")
