"""A client of ``testbed/convex_clients`` run as a process and driven from a test: send
a command, read the answers (see ``npm_client.mjs`` for the line protocol)."""

from __future__ import annotations

import itertools
import json
import selectors
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COMMANDS = {
    "npm": lambda url: [shutil.which("node") or "node", str(HERE / "npm_client.mjs"), url],
    "pypi": lambda url: [sys.executable, str(HERE / "pypi_client.py"), url],
}


class ClientDriver:
    """One official client, speaking to the deployment at ``url``."""

    def __init__(self, kind: str, url: str, log_path: Path) -> None:
        self.kind = kind
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            COMMANDS[kind](url), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log
        )
        self._ids = itertools.count()
        self._buffer = b""
        self.answers: list[dict[str, Any]] = []

    def send(self, op: str, path: str, **args: Any) -> str:
        ident = f"{op}-{next(self._ids)}"
        line = json.dumps({"op": op, "id": ident, "path": path, "args": args}) + "\n"
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode())
        self.proc.stdin.flush()
        return ident

    def call(self, op: str, path: str, timeout_s: float = 10.0, **args: Any) -> dict[str, Any]:
        """A query, mutation or action over the client's socket; its answer."""
        ident = self.send(op, path, **args)
        return self.wait_for(lambda a: a.get("id") == ident, timeout_s)

    def wait_for(self, match: Any, timeout_s: float = 10.0) -> dict[str, Any]:
        """The first answer, old or new, that ``match`` accepts; it is consumed."""
        deadline = time.monotonic() + timeout_s
        while True:
            for i, answer in enumerate(self.answers):
                if match(answer):
                    return self.answers.pop(i)
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise TimeoutError(f"{self.kind} client: no matching answer in {timeout_s} s")

    def _read(self, timeout_s: float) -> bool:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout_s):
                return True
        chunk = self.proc.stdout.read1(65536)  # type: ignore[attr-defined]
        if not chunk:
            return False
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        self.answers.extend(json.loads(line) for line in lines if line.strip())
        return True

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()
