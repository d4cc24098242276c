"""Fixtures for the Claude engine's unit tests: the small shop repository, a step
context over it, and engines wired to the ``claude`` double."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analysis.claude import ClaudeEngine
from analysis.course.artifacts import (
    AbstractionsArtifact,
    ChaptersArtifact,
    OrderArtifact,
    RelationshipsArtifact,
)
from analysis.engine import StepContext
from testbed.claude_double import double_settings, make_claude_bin, recorded
from testbed.gitrepo import make_repo

EngineFactory = Callable[..., ClaudeEngine]


@pytest.fixture(autouse=True)
def _no_claude_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings read CLAUDE_* and the credentials from the environment: start from none.
    for name in list(os.environ):
        if name.startswith("CLAUDE_") or name == "ANTHROPIC_API_KEY":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def shop_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only for every test: the checkout the recorded answers are about."""
    return make_repo(tmp_path_factory.mktemp("claude-repo") / "shop")


@pytest.fixture
def ctx(tmp_path: Path, shop_repo: Path) -> StepContext:
    return StepContext(
        job_id="job-1", checkout=shop_repo, prompt="Keep it short.", work_dir=tmp_path / "work"
    )


@pytest.fixture
def argv_log(tmp_path: Path) -> Path:
    return tmp_path / "argv.jsonl"


@pytest.fixture
def engine_for(tmp_path: Path, argv_log: Path) -> EngineFactory:
    """``engine_for("scenario", double_env={...}, **settings)``: every call is logged."""

    def make(
        scenario: str, double_env: dict[str, str] | None = None, **settings: Any
    ) -> ClaudeEngine:
        env = {"CLAUDE_DOUBLE_ARGV_LOG": str(argv_log), **(double_env or {})}
        claude = make_claude_bin(tmp_path / "bin", scenario, **env)
        return ClaudeEngine(double_settings(claude, **settings))

    return make


def _with_recorded_artifacts(ctx: StepContext, *, chapters: bool) -> StepContext:
    ctx.abstractions = AbstractionsArtifact.model_validate(recorded("AbstractionsArtifact"))
    ctx.relationships = RelationshipsArtifact.model_validate(recorded("RelationshipsArtifact"))
    ctx.order = OrderArtifact.model_validate(recorded("OrderArtifact"))
    if chapters:
        ctx.chapters = ChaptersArtifact.model_validate(
            {
                "chapters": [
                    {"index": i, "abstraction_id": aid, "slug": aid}
                    | recorded("ChapterDraft", f"`{aid}`")
                    for i, aid in enumerate(ctx.order.order, start=1)
                ]
            }
        )
    return ctx


@pytest.fixture
def ordered_ctx(ctx: StepContext) -> StepContext:
    """The context of step 4: steps 1 to 3 as recorded in the success scenario."""
    return _with_recorded_artifacts(ctx, chapters=False)


@pytest.fixture
def drafted_ctx(ctx: StepContext) -> StepContext:
    """The context of step 5: steps 1 to 4 as recorded in the success scenario."""
    return _with_recorded_artifacts(ctx, chapters=True)
