"""The check at engine start that the installed CLI is one whose flags we have proven.

The engine's safety rests on flags (--tools, --permission-mode dontAsk, --setting-sources,
--strict-mcp-config) whose meaning has changed between releases, so an untested CLI is
refused at worker start with the version found and the range supported.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from fondation.errors import ConfigError

# The versions the real-CLI tests have run against (testbed/claude_api); the worker image
# pins the lower bound. Raise the upper bound after running them on a newer release.
SUPPORTED_MIN = (2, 1, 332)
SUPPORTED_BELOW = (2, 2, 0)
_VERSION = re.compile(r"^\s*(\d+)\.(\d+)\.(\d+)")
_TIMEOUT_S = 30.0


def _show(version: tuple[int, int, int]) -> str:
    return ".".join(str(p) for p in version)


def supported_range() -> str:
    return f">={_show(SUPPORTED_MIN)}, <{_show(SUPPORTED_BELOW)}"


def parse_version(text: str) -> tuple[int, int, int]:
    """``2.1.332`` from ``2.1.332 (Claude Code)``; ``ConfigError`` when there is none."""
    m = _VERSION.match(text)
    if m is None:
        raise ConfigError(f"CLAUDE_BIN: cannot read a version from {text.strip()[:200]!r}")
    return int(m[1]), int(m[2]), int(m[3])


def check_version(argv: list[str], env: dict[str, str], setting: str = "CLAUDE_BIN") -> str:
    """Run ``argv`` (``claude --version``, maybe inside the sandbox) and return the version
    when it is supported; otherwise ``ConfigError`` naming ``setting`` and what was found."""
    with tempfile.TemporaryDirectory(prefix="claude-version-") as home:
        try:
            done = subprocess.run(
                argv,
                env={**env, "HOME": home},
                cwd=Path(home),
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(f"{setting}: cannot run {argv[0]!r}: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-500:]
        raise ConfigError(f"CLAUDE_BIN: {' '.join(argv)} failed (exit {done.returncode}): {tail}")
    version = parse_version(done.stdout)
    if not SUPPORTED_MIN <= version < SUPPORTED_BELOW:
        raise ConfigError(
            f"CLAUDE_BIN: Claude Code {_show(version)} is not supported (supported: "
            f"{supported_range()}); install @anthropic-ai/claude-code@{_show(SUPPORTED_MIN)}"
        )
    return _show(version)
