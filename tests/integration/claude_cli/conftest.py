"""Fixtures for the tests of the engine on the real Claude Code CLI: the pinned CLI,
jobs laid out side by side as the worker lays them out, and one call of the runner."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from analysis.claude.result import ResultEnvelope, parse_envelope
from analysis.claude.runner import ClaudeCall, ClaudeRunner, claude_dir, replay
from analysis.claude.settings import ClaudeSettings
from analysis.claude.version import SUPPORTED_MIN
from analysis.engine import StepContext
from testbed.claude_api.cli import CLAUDE_BIN
from testbed.gitrepo import make_repo

pytestmark = pytest.mark.integration

SCHEMA: dict[str, Any] = {
    "title": "Probe",
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}
OTHER_JOB_SECRET = "OTHER-JOB-SOURCE-c0ffee-do-not-leak"


@pytest.fixture(scope="session", autouse=True)
def claude_cli() -> Path:
    """The pinned CLI; ``make test`` installs it first (``make claude-cli``)."""
    if not CLAUDE_BIN.exists():
        pytest.fail(f"{CLAUDE_BIN} is missing: run `make claude-cli` to install the pinned CLI")
    out = subprocess.run([str(CLAUDE_BIN), "--version"], capture_output=True, text=True, check=True)
    pinned = ".".join(map(str, SUPPORTED_MIN))
    assert out.stdout.startswith(pinned), f"{CLAUDE_BIN} is {out.stdout!r}, not {pinned}"
    return CLAUDE_BIN


@pytest.fixture(autouse=True)
def _no_claude_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Engine settings read CLAUDE_*, the credentials and the proxy variables: none leak in.
    for name in list(os.environ):
        if name.startswith("CLAUDE_") or name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name)


@dataclass(frozen=True)
class Jobs:
    """Two jobs' folders under one TEMP_DIR, as the workspace lays them out."""

    root: Path
    checkout: Path
    work_dir: Path
    other_checkout: Path

    def ctx(self, job_id: str = "job-a") -> StepContext:
        return StepContext(
            job_id=job_id, checkout=self.checkout, prompt="Keep it short.", work_dir=self.work_dir
        )


@pytest.fixture
def jobs(tmp_path: Path) -> Jobs:
    root = tmp_path / "temp"
    checkout = make_repo(root / "job-a" / "checkout")
    other = make_repo(root / "job-b" / "checkout", {"secret.py": f"KEY = '{OTHER_JOB_SECRET}'\n"})
    return Jobs(root, checkout, root / "job-a" / "work", other)


@dataclass
class Outcome:
    output: dict[str, Any] | None
    error: Exception | None
    envelope: ResultEnvelope | None
    returncode: int | None  # the CLI's exit code, from the raw output's .meta.json


def call_once(
    settings: ClaudeSettings, ctx: StepContext, prompt: str = "Probe the checkout."
) -> Outcome:
    """One call through the engine's runner; the envelope is read back from the raw file."""
    runner = ClaudeRunner(settings)
    runner.start()
    output: dict[str, Any] | None = None
    error: Exception | None = None
    try:
        output = runner.run(ClaudeCall("abstractions", "probe", prompt, SCHEMA), ctx)
    except Exception as exc:
        error = exc
    raw = sorted(claude_dir(ctx.work_dir).glob("probe-*.json"))
    raw = [p for p in raw if not p.name.endswith(".meta.json")]
    envelope = None
    returncode = None
    if raw and raw[-1].with_name(raw[-1].stem + ".meta.json").exists():
        meta = json.loads(raw[-1].with_name(raw[-1].stem + ".meta.json").read_text())
        returncode = int(meta["returncode"])
    if raw and raw[-1].stat().st_size:
        try:
            envelope = replay(raw[-1])[0]
        except Exception:
            # An error answer: the envelope alone, read off the transcript's result event.
            envelope = parse_envelope(raw[-1].read_bytes(), returncode or 0, b"", [])
    return Outcome(output, error, envelope, returncode)


def bwrap_works() -> bool:
    """Whether bubblewrap can make its namespaces here (it cannot in every container)."""
    try:
        done = subprocess.run(
            ["bwrap", "--unshare-all", "--share-net", "--ro-bind", "/", "/", "--proc", "/proc",
             "true"],
            capture_output=True,
            timeout=10,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
