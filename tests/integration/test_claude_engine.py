"""The Claude engine through all six steps, on a real git repository, with the ``claude``
double replaying recorded answers; the engine is loaded by name as the worker does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analysis.claude import ClaudeEngine, summarize_calls
from analysis.claude.validate import (
    Checkout,
    check_abstractions,
    check_chapters,
    check_order,
    check_relationships,
    check_review,
    check_tutorials,
)
from analysis.course.artifacts import STEP_ARTIFACTS, Artifact
from analysis.engine import StepContext
from analysis.load import load_engine
from checkout.procgroup import ProcessGroups
from testbed.claude_double import FAKE_KEY, make_claude_bin
from testbed.gitrepo import make_repo

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ClaudeEngine:
    for name in list(os.environ):
        if name.startswith("CLAUDE_") or name == "ANTHROPIC_API_KEY":
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLAUDE_BIN", str(make_claude_bin(tmp_path / "bin", "success")))
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    monkeypatch.setenv("CLAUDE_TIMEOUT_S", "30")
    loaded = load_engine("claude")
    assert isinstance(loaded, ClaudeEngine)
    return loaded


def _roundtrip(step: int, art: Artifact) -> None:
    # What the pipeline stores after each step must load back as the same artifact.
    assert STEP_ARTIFACTS[step].model_validate_json(art.model_dump_json()) == art


def test_the_claude_engine_runs_all_six_steps_on_a_real_repository(
    engine: ClaudeEngine, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "shop")
    ctx = StepContext(
        job_id="job-claude",
        checkout=repo,
        prompt="Explain it to a new team member.",
        work_dir=tmp_path / "scratch",
        process_groups=ProcessGroups(tmp_path / "procs"),
    )
    checkout = Checkout(repo)

    ctx.abstractions = engine.extract_abstractions(ctx)
    ctx.relationships = engine.analyze_relationships(ctx)
    ctx.order = engine.determine_order(ctx)
    ctx.chapters = engine.generate_chapters(ctx)
    ctx.review = engine.review_chapters(ctx)
    tutorials = engine.create_tutorials(ctx)

    arts: list[Artifact] = [
        ctx.abstractions,
        ctx.relationships,
        ctx.order,
        ctx.chapters,
        ctx.review,
        tutorials,
    ]
    for step, art in enumerate(arts, start=1):
        _roundtrip(step, art)
    assert check_abstractions(ctx.abstractions, checkout) == []
    assert check_relationships(ctx.relationships, ctx.abstractions, checkout) == []
    assert check_order(ctx.order, ctx.abstractions) == []
    assert check_chapters(ctx.chapters.chapters, ctx.abstractions, checkout) == []
    assert check_review(ctx.review, ctx.abstractions, checkout) == []
    assert check_tutorials(tutorials, checkout) == []
    assert [c.slug for c in ctx.review.chapters] == ctx.order.order

    summary = summarize_calls(ctx.work_dir)
    # One call per single step, one per chapter in steps 4 and 5.
    assert summary["total"]["calls"] == 4 + 2 * 3
    assert summary["total"]["errors"] == 0
    assert set(summary["steps"]) == {
        "abstractions",
        "relationships",
        "order",
        "chapters",
        "review",
        "tutorials",
    }
    assert summary["total"]["cost_usd"] > 0
    assert list((tmp_path / "procs").iterdir()) == []  # no process group left behind
    assert not (ctx.work_dir / "claude" / "home").exists() or not any(
        (ctx.work_dir / "claude" / "home").iterdir()
    )
