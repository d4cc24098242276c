"""The README's operator table lists every setting, so it cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from fondation.settings import describe_settings
from tasks.engines.claude.settings import ClaudeSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_lists_every_environment_variable() -> None:
    text = README.read_text()
    names = [name for name, _, _ in describe_settings()]
    names += [
        f"CLAUDE_{n.upper()}"
        for n in ClaudeSettings.model_fields
        if n not in {"anthropic_api_key", "oauth_token"}
    ]
    missing = [n for n in names if f"`{n}`" not in text]
    assert not missing, f"README.md does not list: {missing}"


def test_the_readme_quick_start_has_the_two_commands() -> None:
    text = README.read_text()
    assert "make demo" in text
    assert "make test" in text
