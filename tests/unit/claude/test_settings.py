"""CLAUDE_* variables, read when the engine is built, never at import."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.claude import ClaudeEngine, load_claude_settings
from fondation.errors import ConfigError
from testbed.claude_double import make_claude_bin


def test_defaults_and_per_step_turns_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    monkeypatch.setenv("CLAUDE_MAX_TURNS", "12")
    monkeypatch.setenv("CLAUDE_MAX_TURNS_CHAPTERS", "40")
    monkeypatch.setenv("CLAUDE_MODEL", "claude-opus-4-1")
    s = load_claude_settings()
    assert s.bin == "claude"
    assert s.validation_retries == 2
    assert s.chapter_concurrency == 4
    assert s.turns_for("chapters") == 40
    assert s.turns_for("order") == 12
    assert s.model == "claude-opus-4-1"
    assert s.sandbox == "auto"


def test_the_engine_reads_its_settings_when_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLAUDE_BIN", str(make_claude_bin(tmp_path, "success")))
    monkeypatch.setenv("CLAUDE_SANDBOX", "off")
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", "oat-x")
    monkeypatch.setenv("CLAUDE_CHAPTER_CONCURRENCY", "2")
    engine = ClaudeEngine()
    assert engine.settings.chapter_concurrency == 2
    assert engine.settings.credential() == ("CLAUDE_CODE_OAUTH_TOKEN", "oat-x")
    assert engine.runner.cli_version == "2.1.332"


def test_the_api_key_wins_when_both_credentials_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", "oat-x")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    assert load_claude_settings().credential() == ("ANTHROPIC_API_KEY", "sk-ant-x")


def test_no_credential_is_a_configuration_error_naming_what_to_set() -> None:
    with pytest.raises(ConfigError) as info:
        ClaudeEngine()
    message = str(info.value)
    assert "set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN" in message
    assert "ANALYSIS_ENGINE=offline" in message
    # Said once, plainly: no pydantic prefix, no field name made up for the whole model.
    assert "Value error" not in message
    assert "CLAUDE_:" not in message


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    monkeypatch.setenv("CLAUDE_TIMEOUT_S", "-1")
    with pytest.raises(ConfigError, match="CLAUDE_TIMEOUT_S"):
        load_claude_settings()


def test_a_permissive_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    for mode in ("bypassPermissions", "acceptEdits", "default"):
        monkeypatch.setenv("CLAUDE_PERMISSION_MODE", mode)
        with pytest.raises(ConfigError, match="CLAUDE_PERMISSION_MODE"):
            load_claude_settings()


@pytest.mark.parametrize("printed", ["2.1.197 (Claude Code)", "2.2.0 (Claude Code)", "claude"])
def test_an_unsupported_cli_stops_the_engine_at_start_with_the_version_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, printed: str
) -> None:
    fake = make_claude_bin(tmp_path, "success", CLAUDE_DOUBLE_VERSION=printed)
    monkeypatch.setenv("CLAUDE_BIN", str(fake))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    expected = (
        "not supported.*>=2.1.332, <2.2.0" if printed[0].isdigit() else "cannot read a version"
    )
    with pytest.raises(ConfigError, match=expected):
        ClaudeEngine()


def test_a_required_sandbox_that_cannot_start_stops_the_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CLAUDE_BIN", str(make_claude_bin(tmp_path, "success")))
    monkeypatch.setenv("CLAUDE_SANDBOX", "bwrap")
    monkeypatch.setenv("CLAUDE_BWRAP_BIN", str(tmp_path / "no-such-bwrap"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    with pytest.raises(ConfigError, match="CLAUDE_SANDBOX=bwrap"):
        ClaudeEngine()


def test_the_credential_does_not_show_in_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret")
    s = load_claude_settings()
    assert "very-secret" not in repr(s)
    assert "very-secret" not in s.model_dump_json()
