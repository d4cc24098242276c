"""The per-job folder under TEMP_DIR: claimed by one worker process, removed after the job.

Layout::

    <temp_dir>/jobs/<safe job id>/owner      "<hostname>:<pid>" of the last claimant's worker
    <temp_dir>/jobs/<safe job id>/job_id     the job id as given, for clean_stale's report
    <temp_dir>/jobs/<safe job id>/checkout/  the repository (see checkout.clone)
    <temp_dir>/jobs/<safe job id>/scratch/   an engine's work files
    <temp_dir>/trash/<name>.<random>/        a discarded job folder, being deleted

A worker that dies (SIGKILL, OOM, lost machine) cannot remove its folders; the next
worker started on the same host removes those whose owner process is gone. Folders owned
by another host are never touched: TEMP_DIR may be a volume shared between containers,
whose process ids mean nothing here.

Every operation is idempotent: claiming twice rewrites the owner, removing twice is a
no-op.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import queue
import re
import shutil
import socket
import stat
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
_OWNER_FILE = "owner"
_JOB_ID_FILE = "job_id"
_SAFE_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


class Workspace:
    def __init__(self, temp_dir: Path, owner_pid: int | None = None) -> None:
        """``owner_pid`` is the process whose life keeps the folders: a Celery worker's
        main process, so that claims survive its pool children taking turns (and being
        replaced); the calling process when not given."""
        self.temp_dir = temp_dir
        self.jobs_dir = temp_dir / "jobs"
        self._owner_pid = owner_pid
        self._hostname = socket.gethostname()

    def _owner(self) -> str:
        # Not cached: a process forked from this one (a pool child given no owner_pid)
        # claims under its own pid.
        return f"{self._hostname}:{self._owner_pid or os.getpid()}"

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / _folder_name(job_id)

    def checkout_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "checkout"

    def scratch_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "scratch"

    def raw_dir(self, job_id: str) -> Path:
        """Outside the job's folder, so it survives the cleanup: the engine's raw
        outputs (the Claude CLI's stdout of every call), kept for replay."""
        return self.temp_dir / "raw" / _folder_name(job_id)

    def claim(self, job_id: str) -> Path:
        """Create the job's folder (if needed) and record this process as its owner."""
        path = self.job_dir(job_id)
        owner = self._owner()
        # Every step claims the folder; most find it theirs already, so skip the writes.
        if _read_text(path / _OWNER_FILE) == owner:
            return path
        path.mkdir(parents=True, exist_ok=True)
        _write_atomically(path / _JOB_ID_FILE, job_id)
        _write_atomically(path / _OWNER_FILE, owner)
        return path

    def remove(self, job_id: str) -> None:
        remove_tree(self.job_dir(job_id))

    def discard(self, job_id: str) -> None:
        """Like ``remove``, but only a rename is waited for: the job's folder is gone at
        once (moved under ``trash/``) and its files are deleted on a background thread, so
        a large checkout does not hold up the step that ends the job. Trash left by a
        process that died is removed by ``clean_stale``."""
        path = self.job_dir(job_id)
        try:
            self.trash_dir.mkdir(parents=True, exist_ok=True)
            target = self.trash_dir / f"{path.name}.{uuid.uuid4().hex[:12]}"
            os.rename(path, target)
        except FileNotFoundError:
            return  # already gone
        except OSError:
            remove_tree(path)  # the trash is elsewhere (another device): delete in place
            return
        _DELETER.put(target)

    @property
    def trash_dir(self) -> Path:
        return self.temp_dir / "trash"

    def clean_stale(self, starting_pid: int | None = None) -> list[str]:
        """Remove the folders of dead processes of this host; return their job ids.

        A folder with no readable owner is kept: it may be one that a live process has
        just created and not yet claimed. A dead owner's pid reused by a new process
        keeps its folder too; that errs on the side of never deleting live work.
        ``starting_pid``, the caller's own pid before it runs anything, counts as dead: a
        folder it owns is from an earlier run of the same process (a worker that
        replaced itself after a crash keeps its pid).
        """
        # Anything in the trash is garbage: a process that discarded it died before its
        # deleter finished. A live one deleting the same tree meanwhile is harmless.
        if self.trash_dir.is_dir():
            for entry in self.trash_dir.iterdir():
                remove_tree(entry)
        if not self.jobs_dir.is_dir():
            return []
        hostname = self._hostname
        removed = []
        for path in sorted(self.jobs_dir.iterdir()):
            owner = _read_owner(path)
            if owner is None or owner[0] != hostname:
                continue
            if owner[1] != starting_pid and _pid_alive(owner[1]):
                continue
            job_id = _read_text(path / _JOB_ID_FILE) or path.name
            remove_tree(path)
            removed.append(job_id)
        return removed


class _Deleter:
    """Deletes discarded trees, one after another, on a daemon thread of the calling
    process (a pool child gets its own: threads do not survive the fork)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Path] = queue.SimpleQueue()
        self._pid: int | None = None
        self._lock = threading.Lock()

    def put(self, path: Path) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                threading.Thread(
                    target=self._run, args=(self._queue,), name="workspace-deleter", daemon=True
                ).start()
                self._pid = os.getpid()
            self._queue.put(path)

    @staticmethod
    def _run(paths: queue.SimpleQueue[Path]) -> None:
        while True:
            path = paths.get()
            try:
                remove_tree(path)
            except OSError as exc:
                log.warning("discarded folder %s not deleted: %s", path, exc)


_DELETER = _Deleter()


def remove_tree(path: Path) -> None:
    """Remove a folder and everything in it; no error if it is already gone.

    Git leaves read-only pack files, and a tool may leave read-only folders: permissions
    are lifted as needed. A symlink is removed, never followed.
    """
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    if not path.exists():
        return
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=_retry_writable)
    else:
        shutil.rmtree(path, onerror=_retry_writable_legacy)


def _retry_writable(func: Callable[..., Any], name: str, exc: BaseException) -> None:
    if isinstance(exc, FileNotFoundError):
        return  # removed meanwhile: the goal is reached
    if not isinstance(exc, PermissionError):
        raise exc
    parent = os.path.dirname(name)
    if _owner_writable(parent) and (os.path.islink(name) or _owner_writable(name)):
        raise exc  # permissions were not the obstacle; do not loop
    _make_writable(parent)
    if os.path.isdir(name) and not os.path.islink(name):
        _make_writable(name)
        # The folder could not be listed or opened: remove it as a tree of its own.
        remove_tree(Path(name))
    else:
        func(name)


def _retry_writable_legacy(
    func: Callable[..., Any], name: str, exc_info: tuple[type[BaseException], BaseException, Any]
) -> None:
    _retry_writable(func, name, exc_info[1])


def _owner_writable(name: str) -> bool:
    try:
        mode = os.lstat(name).st_mode
    except FileNotFoundError:
        return True
    wanted = stat.S_IRUSR | stat.S_IWUSR | (stat.S_IXUSR if stat.S_ISDIR(mode) else 0)
    return mode & wanted == wanted


def _make_writable(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        mode = os.lstat(name).st_mode
        if stat.S_ISLNK(mode):
            return
        extra = stat.S_IRWXU if stat.S_ISDIR(mode) else stat.S_IRUSR | stat.S_IWUSR
        os.chmod(name, stat.S_IMODE(mode) | extra)


@functools.lru_cache(maxsize=1024)  # every step asks several times for its job's folder
def _folder_name(job_id: str) -> str:
    """A folder name for any job id: the id itself when safe, else a readable hash.

    Two ids never share a folder: safe names have no '.', hashed names always do.
    """
    if _SAFE_JOB_ID.fullmatch(job_id):
        return job_id
    prefix = _UNSAFE_CHARS.sub("_", job_id)[:40].strip("_") or "job"
    digest = hashlib.sha256(job_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{prefix}.{digest}"


def _write_atomically(path: Path, text: str) -> None:
    # clean_stale may read the owner at any time: it must see the old or the new one.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _read_owner(job_dir: Path) -> tuple[str, int] | None:
    if job_dir.is_symlink() or not job_dir.is_dir():
        return None
    text = _read_text(job_dir / _OWNER_FILE)
    if text is None:
        return None
    hostname, colon, pid = text.strip().rpartition(":")
    if not colon or not pid.isdigit():
        return None
    return hostname, int(pid)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a process we could have been; keep the folder
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # A dead child not yet reaped still answers kill(pid, 0); it does no more work.
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat_line.rpartition(")")[2].split()[:1] == ["Z"]
