"""pytest fixtures that run the Convex stand-in (``server.mjs``) for the Python side.

Register with ``pytest_plugins = ["testbed.convex_standin.fixture"]`` in the root
conftest. ``convex_standin`` starts one server per session; ``convex_store_factory``
empties its tables before each test and makes ``ConvexStore`` objects pointed at it.
"""

from __future__ import annotations

import json
import secrets
import selectors
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from store.convex import ConvexStore

HERE = Path(__file__).resolve().parent
SERVER = HERE / "server.mjs"
CONVEX_DIR = HERE.parent.parent / "convex"
START_TIMEOUT_S = 60.0


class StandIn(NamedTuple):
    """A running stand-in: its URL, the worker secret it expects, and its control."""

    url: str
    secret: str
    control: Callable[..., dict[str, Any]]

    def reset(self) -> None:
        """Empty every table and answer normally again."""
        self.control(reset=True)

    def stats(self) -> dict[str, Any]:
        """Function executions since the last reset, as Convex bills them:
        {"calls": n, "byPath": {path: n}, "sync": {connects, firstRuns, reruns,
        rerunsUnchanged}} (testbed/convex_standin/sync.mjs)."""
        with urllib.request.urlopen(f"{self.url}/_stats", timeout=5) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result


def make_convex_store(url: str, secret: str, **options: Any) -> ConvexStore:
    """A ``ConvexStore`` tuned for tests: short timeouts and retry pauses."""
    options.setdefault("timeout_s", 5.0)
    options.setdefault("retries", 2)
    options.setdefault("retry_backoff_s", 0.01)
    options.setdefault("send_clock", True)
    return ConvexStore(url, secret, **options)


def _controller(url: str) -> Callable[..., dict[str, Any]]:
    def control(
        mode: str | None = None, *, times: int | None = None, reset: bool = False, **extra: Any
    ) -> dict[str, Any]:
        """``extra``: the other fields of server.mjs's /_control (``sync``, ``crons``,
        ``runCrons``)."""
        body: dict[str, Any] = {"reset": reset, **extra}
        if mode is not None:
            body["mode"] = mode
        if times is not None:
            body["times"] = times
        req = urllib.request.Request(
            f"{url}/_control",
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result

    return control


def _read_port(proc: subprocess.Popen[bytes], stderr_path: Path) -> int:
    """Wait for the server's first line, "listening <port>"."""
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                line = proc.stdout.readline().decode().strip()
                if line.startswith("listening "):
                    return int(line.split()[1])
                if not line and proc.poll() is not None:
                    break
            elif proc.poll() is not None:
                break
    raise RuntimeError(
        f"the Convex stand-in did not start (exit {proc.poll()}):\n{stderr_path.read_text()}"
    )


def start_standin(
    secret: str, log_dir: Path, port: int = 0
) -> tuple[subprocess.Popen[bytes], StandIn]:
    """Start ``server.mjs`` on ``port`` (0: a free one); the caller stops the process.
    A stand-in started again on the port of a stopped one is that deployment
    restarted empty: its clients reconnect to it."""
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("node")
    if not (CONVEX_DIR / "node_modules" / "convex-test").is_dir():
        raise RuntimeError(
            "convex/node_modules is missing: run `cd convex && npm ci` (or `make convex-test`)"
        )
    stderr_path = log_dir / "convex-standin.stderr"
    with stderr_path.open("ab") as stderr:
        proc = subprocess.Popen(
            [node, str(SERVER), "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={
                "PATH": "/usr/bin:/bin",
                "FONDATION_WORKER_SECRET": secret,
                # A test deployment: the callers' `now` sets the clock (worker/lib/functions.ts).
                "FONDATION_TEST_CLOCK": "1",
            },
        )
    try:
        port = _read_port(proc, stderr_path)
    except BaseException:
        stop_standin(proc)
        raise
    url = f"http://127.0.0.1:{port}"
    return proc, StandIn(url=url, secret=secret, control=_controller(url))


def stop_standin(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture(scope="session")
def convex_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    """One stand-in for the session; its state is shared, see ``convex_store_factory``."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the Convex stand-in needs Node 20 or later")
    proc, standin = start_standin(secrets.token_hex(16), tmp_path_factory.mktemp("convex"))
    try:
        yield standin
    finally:
        stop_standin(proc)


@pytest.fixture
def convex_store_factory(convex_standin: StandIn) -> Callable[..., ConvexStore]:
    """Empties the stand-in, then makes stores against it (the caller closes them);
    keyword arguments go to ``ConvexStore``."""
    convex_standin.reset()
    return lambda **options: make_convex_store(convex_standin.url, convex_standin.secret, **options)


class OwnStandIn:
    """A stand-in of one test's own, which the test may restart (empty) on its port."""

    def __init__(self, log_dir: Path, secret: str | None = None) -> None:
        self.log_dir = log_dir
        self.secret = secret or secrets.token_hex(16)
        self.proc, self.standin = start_standin(self.secret, log_dir)
        self.port = int(self.standin.url.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return self.standin.url

    def restart(self, down_s: float = 0.0) -> None:
        """Stop it, wait ``down_s``, and start a fresh one, empty, on the same port."""
        stop_standin(self.proc)
        time.sleep(down_s)
        self.proc, self.standin = start_standin(self.secret, self.log_dir, self.port)

    def stop(self) -> None:
        stop_standin(self.proc)


@pytest.fixture
def own_convex_standin(tmp_path: Path) -> Iterator[OwnStandIn]:
    """A stand-in for this test alone (it may restart it, or break its sync protocol)."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the Convex stand-in needs Node 20 or later")
    own = OwnStandIn(tmp_path)
    try:
        yield own
    finally:
        own.stop()
