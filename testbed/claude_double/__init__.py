"""Helpers to run the Claude engine against the ``claude`` double in this folder.

The engine gives its child an allowlisted environment, so the double's variables cannot
come from the test process: each test gets a small wrapper script that sets them and
runs the double. CLAUDE_BIN points at the wrapper.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from analysis.claude.settings import ClaudeSettings

DOUBLE = Path(__file__).resolve().parent / "claude"
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
FAKE_KEY = "sk-ant-api03-FAKEKEYFORTESTS-0123456789"


def make_claude_bin(directory: Path, scenario: str, **env: str) -> Path:
    """A ``claude`` for CLAUDE_BIN that runs the double with ``scenario`` and ``env``."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["#!/bin/sh"]
    for name, value in {"CLAUDE_DOUBLE_SCENARIO": scenario, **env}.items():
        lines.append(f"export {name}={shlex.quote(value)}")
    # The interpreter by its path: the child's HOME is private, which breaks pyenv shims.
    # -S skips site-packages (the double needs only the standard library): a faster start.
    lines.append(f'exec {shlex.quote(sys.executable)} -S {shlex.quote(str(DOUBLE))} "$@"')
    path = directory / "claude"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def double_settings(claude_bin: Path, **overrides: Any) -> ClaudeSettings:
    values: dict[str, Any] = {
        "bin": str(claude_bin),
        "anthropic_api_key": SecretStr(FAKE_KEY),
        "timeout_s": 30.0,
        "kill_grace_s": 0.3,
        # The double is a script run by /bin/sh, which the sandbox does not bind.
        "sandbox": "off",
    }
    values.update(overrides)
    return ClaudeSettings(**values)


def read_log(path: Path) -> list[dict[str, Any]]:
    """The calls the double saw: argv, env, cwd and prompt of each."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def recorded(title: str, match: str | None = None, scenario: str = "success") -> dict[str, Any]:
    """The structured output a scenario holds for a schema title (and prompt text)."""
    doc = json.loads((SCENARIOS / f"{scenario}.json").read_text(encoding="utf-8"))
    for r in doc["responses"]:
        if r.get("schema") == title and (match is None or match in str(r.get("match", ""))):
            out: dict[str, Any] = r["structured_output"]
            return out
    raise KeyError(f"{scenario}: no {title} {match or ''}")
