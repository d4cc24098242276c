"""The git object id of every file and folder of a checkout's commit: what a reused
answer's inputs are compared with. A file is its blob id (the hash of its content, as
``git hash-object`` gives it), a folder its tree id (which changes whenever anything
below it is added, removed, renamed or changed), the checkout's root the commit's tree.

Read once per step from ``git ls-tree -r -t -z HEAD`` in our own clone: a local read of
objects the clone already holds, with no configuration of the repository's that git
would act on (no hooks, filters or attributes run for ls-tree).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

_LS_TREE_TIMEOUT_S = 60.0
_SYMLINK_MODE = "120000"
# The same hardening as the clone's: no system or global configuration, no prompts.
_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}


@dataclass(frozen=True)
class TreeIds:
    """Object ids by path (POSIX, relative to the checkout; the root is ``""``)."""

    root: str
    commit: str = ""  # HEAD's commit id
    blobs: dict[str, str] = field(default_factory=dict)
    trees: dict[str, str] = field(default_factory=dict)
    # Symlinks and submodules: what a read of them (or below them) returns is not in
    # their id, so nothing at or below them is ever proved unchanged.
    opaque: set[str] = field(default_factory=set)

    def blob(self, path: str) -> str | None:
        return self.blobs.get(path)

    def tree(self, path: str) -> str | None:
        return self.root if path in ("", ".") else self.trees.get(path)


def read_tree_ids(checkout: Path) -> TreeIds | None:
    """The ids of the checkout's HEAD, or None when it is not a git checkout git can read
    (then nothing it holds can be proved unchanged)."""
    if not (checkout / ".git").is_dir() or checkout.is_symlink():
        return None
    env = {"PATH": os.environ.get("PATH", os.defpath), **_GIT_ENV}
    try:
        commit, root = _git(checkout, env, "rev-parse", "HEAD", "HEAD^{tree}").decode().split()
        listing = _git(checkout, env, "ls-tree", "-r", "-t", "-z", "--full-tree", "HEAD")
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
        return None
    ids = TreeIds(root=root, commit=commit)
    for record in listing.split(b"\0"):
        if not record:
            continue
        # "<mode> <type> <object>\t<path>"
        info, _, raw_path = record.partition(b"\t")
        parts = info.split(b" ")
        if len(parts) != 3:
            return None
        mode, kind, oid = parts[0].decode(), parts[1].decode(), parts[2].decode()
        path = raw_path.decode("utf-8", errors="surrogateescape")
        if kind == "blob" and mode == _SYMLINK_MODE:
            # A link's blob is its target's name, not what a read of it returns: a read
            # through a link is never proved unchanged.
            ids.opaque.add(path)
            continue
        if kind == "blob":
            ids.blobs[path] = oid
        elif kind == "tree":
            ids.trees[path] = oid
        else:  # a submodule ("commit"): its files are not in this tree
            ids.opaque.add(path)
    return ids


def relative_inside(checkout: Path, path: str) -> str | None:
    """``path`` (absolute, or relative to the checkout, as the CLI's tools take it) as a
    POSIX path relative to the checkout, or None when it leads outside. Lexical only:
    a symlink inside is its own blob (its target's text), which is what git records."""
    raw = PurePosixPath(path)
    base = PurePosixPath(checkout.as_posix())
    full = raw if raw.is_absolute() else base / raw
    parts: list[str] = []
    for part in full.parts[1:]:
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    base_parts = list(base.parts[1:])
    if parts[: len(base_parts)] != base_parts:
        return None
    return "/".join(parts[len(base_parts) :])


def _git(checkout: Path, env: dict[str, str], *args: str) -> bytes:
    done = subprocess.run(
        ["git", "-C", str(checkout), *args],
        env=env,
        capture_output=True,
        timeout=_LS_TREE_TIMEOUT_S,
        check=True,
    )
    return done.stdout


def bounded_diff(checkout: Path, old_commit: str, paths: list[str], max_chars: int) -> str | None:
    """``git diff`` of ``paths`` from ``old_commit`` to HEAD, cut at ``max_chars``; None
    when the checkout does not hold the old commit (a shallow clone of depth 1 holds only
    HEAD), so the diff cannot be made without fetching."""
    if not paths or not old_commit or not (checkout / ".git").is_dir():
        return None
    env = {"PATH": os.environ.get("PATH", os.defpath), **_GIT_ENV}
    try:
        _git(checkout, env, "cat-file", "-e", f"{old_commit}^{{commit}}")
        out = _git(checkout, env, "diff", "--no-color", "--no-ext-diff", "-U2", old_commit,
                   "HEAD", "--", *paths)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    text = out.decode("utf-8", errors="replace")
    if len(text) > max_chars:
        text = text[:max_chars] + f"\n... (diff cut at {max_chars} characters)\n"
    return text
