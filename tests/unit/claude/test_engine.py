"""The engine's steps over the double: the feedback loop, retries, the chapter fan-out
and its cache."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from analysis.claude.prompts import FEEDBACK_HEADING
from analysis.course.artifacts import (
    Abstraction,
    AbstractionsArtifact,
    Chapter,
    Citation,
    OrderArtifact,
    RelationshipsArtifact,
)
from analysis.engine import StepContext
from checkout.procgroup import ProcessGroups
from fondation.errors import JobCanceled, PermanentError, StepValidationError, TransientError
from testbed.claude_double import read_log
from tests.unit.claude.conftest import EngineFactory


def _calls_by_key(argv_log: Path) -> Counter[str]:
    """How often each chapter (or step) was asked, from the prompts the double saw."""
    keys: Counter[str] = Counter()
    for call in read_log(argv_log):
        marker = "Target abstraction: `"
        prompt: str = call["prompt"]
        keys[prompt.split(marker, 1)[1].split("`", 1)[0] if marker in prompt else "step"] += 1
    return keys


def test_an_invalid_answer_is_asked_again_with_its_problems(
    engine_for: EngineFactory, ctx: StepContext, argv_log: Path
) -> None:
    art = engine_for("invalid_citation").extract_abstractions(ctx)
    assert [a.id for a in art.abstractions] == ["cart", "models", "checkout"]
    first, second = read_log(argv_log)
    assert FEEDBACK_HEADING not in first["prompt"]
    assert FEEDBACK_HEADING in second["prompt"]
    assert "'shop/payments.py': no such file in the repository" in second["prompt"]


def test_an_answer_that_stays_invalid_fails_the_step_with_a_report(
    engine_for: EngineFactory, ctx: StepContext, argv_log: Path
) -> None:
    with pytest.raises(StepValidationError) as caught:
        engine_for("always_invalid", validation_retries=2).extract_abstractions(ctx)
    assert isinstance(caught.value, PermanentError)
    assert "still invalid after 3 call(s)" in str(caught.value)
    assert "shop/payments.py" in str(caught.value)
    assert len(read_log(argv_log)) == 3


def test_failed_calls_are_retried_and_then_reported_as_transient(
    engine_for: EngineFactory, ctx: StepContext, argv_log: Path
) -> None:
    with pytest.raises(TransientError, match="error_max_turns") as caught:
        engine_for("max_turns", validation_retries=1).extract_abstractions(ctx)
    assert not isinstance(caught.value, StepValidationError)
    assert "gave up after 2 call(s)" in str(caught.value)
    assert len(read_log(argv_log)) == 2


def test_a_schema_violation_is_fed_back_like_any_other_problem(
    engine_for: EngineFactory, ctx: StepContext, argv_log: Path
) -> None:
    # The forbidden_tool scenario answers a relationships object whatever it is asked.
    with pytest.raises(StepValidationError, match="project_name: Field required"):
        engine_for("forbidden_tool", validation_retries=0).extract_abstractions(ctx)


def test_steps_1_to_3_follow_the_recorded_answers(
    engine_for: EngineFactory, ctx: StepContext
) -> None:
    engine = engine_for("success")
    ctx.abstractions = engine.extract_abstractions(ctx)
    ctx.relationships = engine.analyze_relationships(ctx)
    ctx.order = engine.determine_order(ctx)
    assert ctx.order.order == ["models", "cart", "checkout"]
    assert [(r.source, r.target) for r in ctx.relationships.relationships] == [
        ("cart", "models"),
        ("checkout", "cart"),
    ]


def test_chapters_follow_the_order_and_take_their_slug_from_the_abstraction(
    engine_for: EngineFactory, ordered_ctx: StepContext
) -> None:
    art = engine_for("success").generate_chapters(ordered_ctx)
    assert [(c.index, c.abstraction_id, c.slug) for c in art.chapters] == [
        (1, "models", "models"),
        (2, "cart", "cart"),
        (3, "checkout", "checkout"),
    ]
    assert art.chapters[1].title == "The cart"


def test_a_chapter_prompt_has_the_outline_but_no_other_chapter(
    engine_for: EngineFactory, ordered_ctx: StepContext, argv_log: Path
) -> None:
    engine = engine_for("success", chapter_concurrency=1, review_with_drafts=False)
    engine.generate_chapters(ordered_ctx)
    third = read_log(argv_log)[2]["prompt"]
    assert "Target abstraction: `checkout`" in third
    assert '"title":"Items"' in third  # the outline...
    assert '"title":"The cart"' in third
    assert "Everything in the shop starts with" not in third  # chapter 1's text


def test_a_failed_chapter_is_retried_alone(
    engine_for: EngineFactory, ordered_ctx: StepContext, argv_log: Path
) -> None:
    art = engine_for("invalid_citation", review_with_drafts=False).generate_chapters(ordered_ctx)
    assert len(art.chapters) == 3
    assert _calls_by_key(argv_log) == Counter({"models": 1, "cart": 2, "checkout": 1})


def test_finished_chapters_are_reused_when_the_step_runs_again(
    engine_for: EngineFactory, ordered_ctx: StepContext, argv_log: Path
) -> None:
    engine = engine_for("success", review_with_drafts=False)
    first = engine.generate_chapters(ordered_ctx)
    calls = len(read_log(argv_log))
    again = engine.generate_chapters(ordered_ctx)
    assert again == first
    assert len(read_log(argv_log)) == calls == 3


def test_a_changed_question_is_not_answered_from_the_cache(
    engine_for: EngineFactory, ordered_ctx: StepContext, argv_log: Path
) -> None:
    engine = engine_for("success", review_with_drafts=False)
    engine.generate_chapters(ordered_ctx)
    ordered_ctx.prompt = "Write for experts."
    engine.generate_chapters(ordered_ctx)
    assert len(read_log(argv_log)) == 6


def test_each_chapter_is_reviewed_as_soon_as_its_draft_is_done_and_step_5_reuses_it(
    engine_for: EngineFactory, ordered_ctx: StepContext, argv_log: Path
) -> None:
    engine = engine_for("success", chapter_concurrency=1)
    ordered_ctx.chapters = engine.generate_chapters(ordered_ctx)
    asked = [call["prompt"] for call in read_log(argv_log)]
    # One thread: each review is due when its draft is done and goes ahead of the drafts
    # not yet started (draft, review, draft, review, ...); step 4 ends once all are
    # answered.
    reviews = [i for i, prompt in enumerate(asked) if "## Task: review chapter" in prompt]
    assert reviews == [1, 3, 5], [p[:80] for p in asked]
    reported: list[Chapter] = []
    ordered_ctx.on_chapter_reviewed = reported.append
    review = engine.review_chapters(ordered_ctx)
    assert len(read_log(argv_log)) == 6  # step 5 asked nothing: every review was cached
    assert sorted(reported, key=lambda c: c.index) == review.chapters
    assert [c.slug for c in review.chapters] == ["models", "cart", "checkout"]


def test_a_chapter_reviewed_early_is_reported_readable_during_step_4(
    engine_for: EngineFactory, ordered_ctx: StepContext
) -> None:
    reported: list[Chapter] = []
    ordered_ctx.on_chapter_reviewed = reported.append
    engine = engine_for("success", chapter_concurrency=2)
    ordered_ctx.chapters = engine.generate_chapters(ordered_ctx)
    assert sorted(c.slug for c in reported) == ["cart", "checkout", "models"]
    assert sorted(reported, key=lambda c: c.index) == engine.review_chapters(ordered_ctx).chapters


def test_the_review_replaces_chapters_and_collects_findings(
    engine_for: EngineFactory, drafted_ctx: StepContext
) -> None:
    art = engine_for("success").review_chapters(drafted_ctx)
    assert [c.slug for c in art.chapters] == ["models", "cart", "checkout"]
    assert "adds up their prices" in art.chapters[1].content
    assert [(f.chapter_slug, f.kind, f.fixed) for f in art.findings] == [("cart", "citation", True)]


def test_each_chapter_is_reported_as_its_review_ends_as_the_artifact_has_it(
    engine_for: EngineFactory, drafted_ctx: StepContext
) -> None:
    reported: list[Chapter] = []
    drafted_ctx.on_chapter_reviewed = reported.append
    art = engine_for("success").review_chapters(drafted_ctx)
    assert sorted(reported, key=lambda c: c.index) == art.chapters


def test_tutorials_are_checked_and_returned(
    engine_for: EngineFactory, drafted_ctx: StepContext
) -> None:
    engine = engine_for("success")
    drafted_ctx.review = engine.review_chapters(drafted_ctx)
    art = engine.create_tutorials(drafted_ctx)
    assert [t.slug for t in art.tutorials] == ["discounts", "receipt"]


def test_a_tutorial_that_is_only_its_title_is_asked_for_again(
    engine_for: EngineFactory, drafted_ctx: StepContext, argv_log: Path, tmp_path: Path
) -> None:
    good = {
        "index": 1, "slug": "discounts", "title": "Add a discount",
        "content": "# Add a discount\n\n## Exercise\n\nGive `Cart.total` a discount.\n",
        "files": ["shop/cart.py"],
    }  # fmt: skip
    title_only = {**good, "content": "# Add a discount\n\n"}
    scenario = tmp_path / "title_only.json"
    scenario.write_text(
        json.dumps(
            {
                "responses": [
                    {
                        "schema": "TutorialsArtifact",
                        "match": ["previous answer was rejected", "tutorial discounts: empty"],
                        "structured_output": {"tutorials": [good]},
                    },
                    {
                        "schema": "TutorialsArtifact",
                        "structured_output": {"tutorials": [title_only]},
                    },
                ],
                "include": ["success"],
            }
        )
    )
    engine = engine_for(str(scenario))
    drafted_ctx.review = engine.review_chapters(drafted_ctx)
    art = engine.create_tutorials(drafted_ctx)
    assert [t.content for t in art.tutorials] == [good["content"]]
    asked = [c["prompt"] for c in read_log(argv_log) if "Target abstraction" not in c["prompt"]]
    assert len(asked) == 2
    assert "tutorial discounts: empty content" in asked[1]


def _eight_chapters(ctx: StepContext) -> StepContext:
    ids = [f"part{i}" for i in range(8)]
    ctx.abstractions = AbstractionsArtifact(
        project_name="p",
        summary="s",
        abstractions=[
            Abstraction(
                id=i,
                name=i,
                summary="s",
                files=["README.md"],
                citations=[Citation(path="README.md", start_line=1, end_line=1)],
            )
            for i in ids
        ],
    )
    ctx.relationships = RelationshipsArtifact(summary="s", relationships=[])
    ctx.order = OrderArtifact(order=ids)
    return ctx


def _timed_chapters(engine_for: EngineFactory, ctx: StepContext, concurrency: int) -> float:
    engine = engine_for(
        "fanout", double_env={"CLAUDE_DOUBLE_DELAY_S": "0.5"}, chapter_concurrency=concurrency
    )
    started = time.monotonic()
    art = engine.generate_chapters(ctx)
    assert len(art.chapters) == 8
    return time.monotonic() - started


def test_chapters_are_written_in_parallel(
    engine_for: EngineFactory, tmp_path: Path, shop_repo: Path
) -> None:
    def fresh(name: str) -> StepContext:  # a work dir of its own: no cached chapters
        return _eight_chapters(StepContext("job", shop_repo, "", tmp_path / name))

    serial = _timed_chapters(engine_for, fresh("serial"), concurrency=1)
    parallel = _timed_chapters(engine_for, fresh("parallel"), concurrency=4)
    assert serial > 8 * 0.5
    # Two waves of 0.5 s against eight; a loose bound, this is no benchmark.
    assert parallel < 0.6 * serial, (parallel, serial)


def test_cancel_stops_every_chapter_call(
    engine_for: EngineFactory, ctx: StepContext, tmp_path: Path
) -> None:
    ctx = _eight_chapters(ctx)
    ctx.process_groups = ProcessGroups(tmp_path / "procs")
    engine = engine_for("hang", timeout_s=60.0, chapter_concurrency=4)
    started = time.monotonic()
    threading.Timer(0.5, ctx.cancel.cancel, args=("canceled by the user",)).start()
    with pytest.raises(JobCanceled):
        engine.generate_chapters(ctx)
    assert time.monotonic() - started < 4.0
    assert list((tmp_path / "procs").iterdir()) == []  # every group was killed and reaped


class _SoftTimeLimit(Exception):
    """Stands in for Celery's SoftTimeLimitExceeded, which SIGUSR1 raises the same way."""


def test_an_interrupted_step_stops_its_chapter_calls_instead_of_waiting(
    engine_for: EngineFactory, ctx: StepContext, tmp_path: Path
) -> None:
    ctx = _eight_chapters(ctx)
    ctx.process_groups = ProcessGroups(tmp_path / "procs")
    engine = engine_for("hang", timeout_s=60.0, chapter_concurrency=4)

    def soft_limit(signum: int, frame: object) -> None:
        raise _SoftTimeLimit

    previous = signal.signal(signal.SIGUSR1, soft_limit)
    try:
        threading.Timer(0.5, os.kill, args=(os.getpid(), signal.SIGUSR1)).start()
        started = time.monotonic()
        with pytest.raises(_SoftTimeLimit):
            engine.generate_chapters(ctx)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert time.monotonic() - started < 4.0  # not the 60 s the hanging calls would take
    assert ctx.cancel.is_set
    assert list((tmp_path / "procs").iterdir()) == []
