"""Running the git commands of one clone.

Every git process runs with a hardened environment (see ``git_env``): only the transport
of the source is allowed, hooks are off, nothing prompts, and a token travels only as an
HTTP header in the environment, so it never reaches ``.git/config``, the remote URL, the
process arguments or the logs. Submodules are never fetched.

Git runs in its own process group, polled every ``_POLL_S``: on cancel the group is killed
and ``JobCanceled`` is raised, past the deadline it is killed and ``TransientError`` is
raised. A failure is permanent when git's message says so, transient otherwise.
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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from checkout.repo_url import RepoSource, redact
from fondation.cancel import CancelToken
from fondation.errors import (
    ConfigError,
    JobCanceled,
    PermanentError,
    TransientError,
)

_POLL_S = 0.2
_STDERR_KEEP_BYTES = 16_384
_MESSAGE_CHARS = 600

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


def network_failure(stderr: str) -> bool:
    """Whether git failed for the network (a retry may succeed where another way will not)."""
    return _NETWORK_FAILURE.search(_unquoted(stderr)) is not None


@dataclass(frozen=True)
class GitResult:
    rc: int
    stdout: str
    stderr: str


class Sink(Protocol):
    error: PermanentError | None

    def feed(self, chunk: bytes) -> None: ...


class GitRunner:
    """Runs git commands for one clone: one environment, one deadline, one cancel token."""

    def __init__(
        self, source: RepoSource, token: str | None, cancel: CancelToken, timeout_s: float
    ) -> None:
        env, self._secrets = git_env(source.kind, token)
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

    def check(self, result: GitResult, what: str) -> None:
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

    def run(self, args: Sequence[str], cwd: Path, sink: Sink | None = None) -> GitResult:
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
        return GitResult(rc=rc, stdout=stdout.text(), stderr=stderr.text())

    def _drive(
        self,
        proc: subprocess.Popen[bytes],
        what: str,
        out: Sink,
        err: Sink,
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

    def _check_stop(self, proc: subprocess.Popen[bytes], what: str, out: Sink) -> None:
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


def git_env(kind: str, token: str | None) -> tuple[dict[str, str], tuple[str, ...]]:
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
