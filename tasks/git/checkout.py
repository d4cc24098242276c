"""Cloning a repository, and re-creating a checkout at a recorded commit.

Every git process runs with a hardened environment (see ``_git_env``): only the transport
of the source is allowed, hooks are off, nothing prompts, and a token travels only as an
HTTP header in the environment, so it never reaches ``.git/config``, the remote URL, the
process arguments or the logs. Submodules are never fetched.

Git runs in its own process group, polled every ``_POLL_S``: on cancel the group is killed
and ``JobCanceled`` is raised, past the deadline it is killed and ``TransientError`` is
raised. Before the working tree is written, the sizes of the commit's blobs are summed
from ``git ls-tree`` and the checkout is refused when they exceed ``max_bytes``; that
stops a git bomb (a tiny pack whose trees repeat one blob millions of times) before it
fills the disk. The written tree is measured again, since filters (LFS, smudge) can
enlarge files.

Work happens in a fresh sibling folder of ``dest`` that is renamed onto ``dest`` at the
end: a crash leaves a complete checkout or none at ``dest``, and running either function
twice leaves one complete checkout. (Leftover sibling folders are removed with the job
folder.)
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fondation.cancel import CancelToken
from fondation.errors import (
    ConfigError,
    InvalidRepositoryURL,
    JobCanceled,
    PermanentError,
    TransientError,
)
from tasks.git.repo_url import RepoSource, redact, validate_repo_url
from tasks.git.workspace import remove_tree

_POLL_S = 0.2
_STDERR_KEEP_BYTES = 16_384
_MESSAGE_CHARS = 600
# Deepening steps tried, after fetching the commit by id, when the server refuses that.
_DEEPEN_BY = 100

DEFAULT_MAX_FILES = 200_000
_COMMIT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_BAD_REF_PARTS = re.compile(r"\.\.|@\{|//|/\.|[~^:?*\[\\]")
# Variables that would make git read or write another repository than the one we name.
_LOCATION_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)

# Matched against git's stderr with its quoted parts (URLs, paths) blanked out, so that a
# repository called "ssl-timed out" cannot change the verdict.
_NETWORK_FAILURE = re.compile(
    r"could not resolve|resolve host|connection (?:reset|refused|timed out)|failed to connect"
    r"|timed out|early eof|rpc failed|remote end hung up|unexpected disconnect"
    r"|returned error: (?:5\d\d|429)|network is unreachable|temporary failure"
    r"|ssl certificate|ssl connect|tls connection|gnutls|openssl",
    re.IGNORECASE,
)
_PERMANENT_FAILURE = re.compile(
    r"repository .*not found|not found in upstream|couldn't find remote ref"
    r"|could not read username|authentication failed|returned error: (?:401|403|404)"
    r"|does not appear to be a git repository|not our ref|unadvertised object"
    r"|transport '[^']*' not allowed|not a valid object name|reference is not a tree"
    r"|invalid refspec|not a valid branch name",
    re.IGNORECASE,
)


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
    runner = _GitRunner(source, token, cancel, timeout_s)
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
    runner = _GitRunner(source, token, cancel, timeout_s)
    if _head_of(runner, dest) == commit:
        return dest
    with _staging(dest) as work:
        _clone_shallow(runner, url, ref, work, depth)
        _fetch_commit(runner, work, commit, depth=depth, ref=ref, display=source.display)
        _check_out(runner, work, commit, max_bytes, max_files)
        _install(work, dest)
    return dest


# --- the steps ----------------------------------------------------------------------


def _clone_shallow(runner: _GitRunner, url: str, ref: str | None, work: Path, depth: int) -> None:
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
    runner: _GitRunner, work: Path, commit: str, *, depth: int, ref: str | None, display: str
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
        if result.rc != 0 and _NETWORK_FAILURE.search(_unquoted(result.stderr)):
            runner.check(result, "fetch")
        # Any other failure (a server refusing fetches by id, "--unshallow on a complete
        # repository") only means this way did not work: try the next.
    if not _has_commit(runner, work, commit):
        where = f"branch {ref!r}" if ref else "the default branch"
        raise PermanentError(f"commit {commit} is not in the history of {where} of {display}")


def _has_commit(runner: _GitRunner, work: Path, commit: str) -> bool:
    return runner.run(["cat-file", "-e", f"{commit}^{{commit}}"], work).rc == 0


def _check_out(
    runner: _GitRunner, work: Path, commit: str, max_bytes: int, max_files: int
) -> CloneResult:
    budget = _TreeBudget(max_bytes, max_files)
    listing = runner.run(["ls-tree", "-r", "-l", "-z", commit], work, sink=budget)
    runner.check(listing, "ls-tree")
    runner.check(runner.run(["checkout", "--quiet", "--force", commit], work), "checkout")
    files, size = _measure(work, max_bytes)
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


def _head_of(runner: _GitRunner, dest: Path) -> str | None:
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


def _measure(root: Path, max_bytes: int) -> tuple[int, int]:
    """Files and bytes of the working tree, without ``.git`` and without following links."""
    git_dir = str(root / ".git")
    files = size = 0
    pending = [str(root)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.path != git_dir:
                        pending.append(entry.path)
                    continue
                files += 1
                size += entry.stat(follow_symlinks=False).st_size
                if size > max_bytes:
                    raise _too_large(f"its checkout holds more than {max_bytes} bytes", max_bytes)
    return files, size


class _TreeBudget:
    """Sums blob sizes from ``git ls-tree -r -l -z`` output as it streams."""

    def __init__(self, max_bytes: int, max_files: int = 0) -> None:
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.files = 0
        self.size = 0
        self.error: PermanentError | None = None
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        if self.error is not None:
            return
        records = (self._partial + chunk).split(b"\0")
        self._partial = records.pop()
        for record in records:
            # "<mode> <type> <object> <size>\t<path>"; submodules have size "-".
            blob_size = record.partition(b"\t")[0].rsplit(b" ", 1)[-1].strip()
            if blob_size.isdigit():
                self.size += int(blob_size)
            self.files += 1
        # Many empty files weigh nothing but still cost inodes and time to check out.
        if self.max_files and self.files > self.max_files:
            self.error = PermanentError(
                f"repository too large: more than {self.max_files} files"
                f" (MAX_REPO_FILES={self.max_files})"
            )
        elif self.size > self.max_bytes:
            self.error = _too_large(
                f"its files add up to more than {self.max_bytes} bytes", self.max_bytes
            )


def _too_large(what: str, max_bytes: int) -> PermanentError:
    return PermanentError(f"repository too large: {what} (MAX_REPO_BYTES={max_bytes})")


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


# --- running git ----------------------------------------------------------------------


@dataclass(frozen=True)
class _GitResult:
    rc: int
    stdout: str
    stderr: str


class _Sink(Protocol):
    error: PermanentError | None

    def feed(self, chunk: bytes) -> None: ...


class _GitRunner:
    """Runs git commands for one clone: one environment, one deadline, one cancel token."""

    def __init__(
        self, source: RepoSource, token: str | None, cancel: CancelToken, timeout_s: float
    ) -> None:
        env, self._secrets = _git_env(source.kind, token)
        # Encoded and looked up once per clone, not by subprocess for each of its
        # commands: with the worker's whole environment that was most of a spawn's cost.
        self._env = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
        git = shutil.which("git", path=env.get("PATH", os.defpath))
        if git is None:
            raise ConfigError("cannot run git: is it installed and on PATH?")
        self._git = git
        self._cancel = cancel
        self._timeout_s = timeout_s
        self._deadline = time.monotonic() + timeout_s

    def output(self, args: Sequence[str], cwd: Path, what: str) -> str:
        result = self.run(args, cwd)
        self.check(result, what)
        return result.stdout.strip()

    def check(self, result: _GitResult, what: str) -> None:
        if result.rc == 0:
            return
        detail = self.scrub(result.stderr).strip()[-_MESSAGE_CHARS:] or f"exit status {result.rc}"
        message = f"git {what} failed: {detail}"
        if _PERMANENT_FAILURE.search(_unquoted(result.stderr)):
            raise PermanentError(message)
        # Network faults, and failures we do not recognise: a bounded retry costs less
        # than failing a job for a passing fault.
        raise TransientError(message)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return redact(text)

    def run(self, args: Sequence[str], cwd: Path, sink: _Sink | None = None) -> _GitResult:
        env = {**self._env, b"GIT_CEILING_DIRECTORIES": os.fsencode(cwd.parent)}
        try:
            # A session of its own: on cancel or timeout the whole group (upload-pack,
            # index-pack, ...) is killed.
            proc = subprocess.Popen(
                [self._git, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise ConfigError("cannot run git: is it installed and on PATH?") from exc
        stdout = _Collector()
        stderr = _Collector(keep_tail=_STDERR_KEEP_BYTES)
        try:
            rc = self._drive(proc, args[0], sink or stdout, stderr)
        finally:
            if proc.poll() is None:
                _kill_group(proc)
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        return _GitResult(rc=rc, stdout=stdout.text(), stderr=stderr.text())

    def _drive(
        self,
        proc: subprocess.Popen[bytes],
        what: str,
        out: _Sink,
        err: _Sink,
    ) -> int:
        """Read git's output in this thread until both pipes close, looking at cancel, the
        deadline and ``out``'s verdict at least every ``_POLL_S``; then reap git.

        One thread and a selector: reader threads and a waiting thread cost more CPU than
        the short commands of a clone themselves."""
        assert proc.stdout is not None
        assert proc.stderr is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ, out)
            selector.register(proc.stderr, selectors.EVENT_READ, err)
            while selector.get_map():
                ready = selector.select(_POLL_S)
                for key, _ in ready:
                    chunk = os.read(key.fd, 65_536)
                    if chunk:
                        key.data.feed(chunk)
                    else:
                        selector.unregister(key.fileobj)
                self._check_stop(proc, what, out)
                if not ready and proc.poll() is not None:
                    break  # git exited, but a helper it left keeps a pipe open
        while True:
            try:
                # Both pipes are closed, so git is exiting: this returns within a few ms.
                return proc.wait(timeout=_POLL_S)
            except subprocess.TimeoutExpired:
                self._check_stop(proc, what, out)

    def _check_stop(self, proc: subprocess.Popen[bytes], what: str, out: _Sink) -> None:
        if self._cancel.is_set:
            _kill_group(proc)
            raise JobCanceled(self._cancel.reason or "canceled")
        if time.monotonic() > self._deadline:
            _kill_group(proc)
            raise TransientError(f"git {what} timed out after {self._timeout_s:g} s")
        if out.error is not None:
            _kill_group(proc)
            raise out.error


def _unquoted(stderr: str) -> str:
    return re.sub(r"'[^'\n]*'", "''", stderr)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # git spawns helpers (remote-https, index-pack, upload-pack): kill them all.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class _Collector:
    def __init__(self, keep_tail: int | None = None) -> None:
        self._data = bytearray()
        self._keep_tail = keep_tail
        self.error: PermanentError | None = None

    def feed(self, chunk: bytes) -> None:
        self._data += chunk
        if self._keep_tail is not None and len(self._data) > 2 * self._keep_tail:
            del self._data[: -self._keep_tail]

    def text(self) -> str:
        data = self._data if self._keep_tail is None else self._data[-self._keep_tail :]
        return bytes(data).decode("utf-8", errors="replace")


def _git_env(kind: str, token: str | None) -> tuple[dict[str, str], tuple[str, ...]]:
    """The environment of every git process, and the secrets to scrub from its output.

    Configuration goes through GIT_CONFIG_COUNT/KEY/VALUE, the "command line" scope that
    overrides every config file and is never written to disk (unlike ``clone --config``).
    """
    for name in _LOCATION_VARIABLES:
        if name in os.environ:
            raise ConfigError(f"{name} is set in the worker's environment; git would use it")
    transport = "https" if kind == "https" else "file"
    config = [
        ("protocol.allow", "never"),
        (f"protocol.{transport}.allow", "always"),
        ("core.hooksPath", "/dev/null"),
        ("credential.helper", ""),  # an empty value clears the helpers of config files
        ("core.askPass", ""),
        ("submodule.recurse", "false"),
        ("fetch.recurseSubmodules", "false"),
        ("advice.detachedHead", "false"),
        # No housekeeping in a throwaway clone: a detached "gc --auto" would outlive git.
        ("gc.auto", "0"),
        ("maintenance.auto", "false"),
    ]
    secrets: tuple[str, ...] = ()
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
        # curl does not send a custom Authorization header to another host on redirect.
        config.append(("http.extraHeader", f"Authorization: Basic {basic}"))
        secrets = (token, basic)
    env = {
        **os.environ,
        # git's messages in English: the failure patterns above are matched against them.
        "LANGUAGE": "C",
        "LC_ALL": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "GIT_ALLOW_PROTOCOL": transport,  # overrides an inherited, wider value
        "GIT_CONFIG_PARAMETERS": "",
        "GIT_TRACE_REDACT": "1",
        "GIT_LFS_SKIP_SMUDGE": "1",  # LFS objects would bypass the size check of the tree
        "GIT_CONFIG_COUNT": str(len(config)),
    }
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env, secrets
