"""The embedded stack for one machine: Redis (embedded when REDIS_URL is unset), a bridge
and a worker as child processes, and optionally Flower. Used by ``analyze`` and ``up``."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from fondation.embedded_redis import EmbeddedRedis, free_port
from fondation.errors import FondationError
from fondation.parent_death import die_with_parent
from fondation.redis_client import redis_answers
from fondation.settings import Settings

log = logging.getLogger(__name__)

# What a supervisor, Ctrl-C and a closing terminal send: each stops the whole stack.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stack:
    def __init__(
        self,
        settings: Settings,
        *,
        state_dir: Path,
        health_port: int | None = None,
        flower_port: int | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.state_dir = state_dir.resolve()
        self.health_port = settings.health_port if health_port is None else health_port
        self.flower_port = flower_port
        self.log_dir = log_dir
        self.redis: EmbeddedRedis | None = None
        self.redis_url = settings.redis_url.get_secret_value() if settings.redis_url else ""
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["REDIS_URL"] = self.redis_url
        env["HEALTH_PORT"] = str(self.health_port)
        if self.settings.store_kind == "sqlite":
            env["SQLITE_PATH"] = str(self.settings.sqlite_path.resolve())
        # The embedded mode analyses what is on this machine.
        env["ALLOW_LOCAL_REPOS"] = (
            "true"
            if not self.settings.redis_url
            else env.get("ALLOW_LOCAL_REPOS", str(self.settings.allow_local_repos).lower())
        )
        env["TEMP_DIR"] = str(self.settings.temp_dir)
        return env

    def start(self) -> None:
        if not self.redis_url:
            self.redis = EmbeddedRedis(self.state_dir / "redis")
            self.redis_url = self.redis.start()
        elif not redis_answers(self.redis_url, 2.0):
            raise FondationError("Redis does not answer at REDIS_URL")
        self._spawn("bridge", [sys.executable, "-m", "cli", "bridge"])
        self._spawn("worker", [sys.executable, "-m", "cli", "worker"])
        if self.flower_port is not None:
            self._spawn(
                "flower",
                [sys.executable, "-m", "cli", "flower", "--port", str(self.flower_port)],
            )

    def _spawn(self, name: str, argv: list[str]) -> None:
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = (self.log_dir / f"{name}.log").open("ab")
        # Own session: Ctrl-C reaches us once, and we stop the children in order. The
        # parent-death signal stops them if we are killed before we can.
        self.procs[name] = subprocess.Popen(
            argv, env=self.env(), stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True, preexec_fn=die_with_parent(),  # noqa: PLW1509 (prctl and getppid only)
        )  # fmt: skip

    def failed_process(self) -> str | None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return f"{name} exited with {proc.returncode}"
        return None

    def serve(self, poll_s: float = 0.2) -> str:
        """Run until a child exits or a stop signal arrives, then stop every child and
        the embedded Redis. Returns why it stopped (the signal's name, or the child)."""
        received: list[int] = []
        previous = {
            sig: signal.signal(sig, lambda n, _f: received.append(n)) for sig in STOP_SIGNALS
        }
        try:
            while not received:
                if (failed := self.failed_process()) is not None:
                    return failed
                time.sleep(poll_s)
            return signal.Signals(received[0]).name
        finally:
            # The handlers stay while the children stop: a second Ctrl-C or a repeated
            # SIGTERM does not cut the stop short and leave children behind.
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self, timeout_s: float = 30.0, *, job_done: bool = False) -> None:
        """Stop every child, then the embedded Redis; a child still running after
        ``timeout_s`` is killed.

        A worker normally gets SIGTERM, its soft shutdown (REMAP_SIGTERM=SIGQUIT): running
        steps get WORKER_SOFT_SHUTDOWN_TIMEOUT, then go back to the queue. But Celery
        sleeps that whole timeout whenever a step is running, however soon it ends. With
        ``job_done`` (``analyze`` once its job has ended) the only step that can still run
        is the last one returning, so the worker gets SIGINT, Celery's warm shutdown,
        which ends as soon as that step has.
        """
        for name in ("bridge", "flower", "worker"):
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is None:
                warm = name == "worker" and job_done
                proc.send_signal(signal.SIGINT if warm else signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None


def pick_health_port(preferred: int) -> int:
    """The preferred port when free, otherwise any free one."""
    import socket

    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    return free_port()
