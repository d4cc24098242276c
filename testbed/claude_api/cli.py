"""Where the pinned real CLI is, and engine settings that point it at a scripted API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from analysis.claude.settings import ClaudeSettings

REPO = Path(__file__).resolve().parents[2]
CLAUDE_BIN = REPO / ".tools" / "claude-code" / "node_modules" / ".bin" / "claude"
FAKE_API_KEY = "sk-ant-api03-REALCLITESTKEY-0123456789abcdef"
FAKE_OAUTH_TOKEN = "sk-ant-oat01-REALCLITESTTOKEN-0123456789abcdef"


def real_settings(api_url: str, *, credential: str = "api_key", **overrides: Any) -> ClaudeSettings:
    """Settings for the real CLI against ``api_url``; ``credential`` is api_key or oauth."""
    values: dict[str, Any] = {
        "bin": str(CLAUDE_BIN),
        "base_url": api_url,
        "timeout_s": 60.0,
        "kill_grace_s": 0.5,
        "sandbox": "off",
    }
    if credential == "api_key":
        values["anthropic_api_key"] = SecretStr(FAKE_API_KEY)
    else:
        values["oauth_token"] = SecretStr(FAKE_OAUTH_TOKEN)
    values.update(overrides)
    return ClaudeSettings(**values)
