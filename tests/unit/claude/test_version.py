"""The CLI version is pinned once: the worker image, the Makefile's test install and the
engine's supported range start at the same release."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analysis.claude.version import SUPPORTED_MIN, parse_version, supported_range
from fondation.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_the_image_the_makefile_and_the_supported_range_pin_the_same_cli() -> None:
    image = re.search(r"ARG CLAUDE_CODE_VERSION=(\S+)", (REPO / "Dockerfile.worker").read_text())
    make = re.search(r"CLAUDE_CODE_VERSION\s*:=\s*(\S+)", (REPO / "Makefile").read_text())
    assert image is not None
    assert make is not None
    assert parse_version(image[1]) == parse_version(make[1]) == SUPPORTED_MIN


def test_a_version_is_read_from_what_the_cli_prints() -> None:
    assert parse_version("2.1.332 (Claude Code)\n") == (2, 1, 332)
    assert supported_range() == ">=2.1.332, <2.2.0"
    with pytest.raises(ConfigError, match="cannot read a version"):
        parse_version("Claude Code")
