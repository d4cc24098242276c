"""The README's operator table lists every setting, so it cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices

from analysis.claude.settings import ClaudeSettings
from fondation.settings import describe_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_lists_every_environment_variable() -> None:
    text = README.read_text()
    names = [name for name, _, _ in describe_settings()]
    for n, field in ClaudeSettings.model_fields.items():
        alias = field.validation_alias
        # An aliased setting keeps its usual name (ANTHROPIC_BASE_URL, HTTPS_PROXY, ...).
        names.append(
            str(alias.choices[0]) if isinstance(alias, AliasChoices) else f"CLAUDE_{n.upper()}"
        )
    missing = [n for n in names if f"`{n}`" not in text]
    assert not missing, f"README.md does not list: {missing}"


def test_the_readme_quick_start_has_the_two_commands() -> None:
    text = README.read_text()
    assert "make demo" in text
    assert "make test" in text
