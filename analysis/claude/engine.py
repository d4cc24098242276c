"""The six analysis steps answered by the Claude Code CLI.

Each step is one call (chapters and reviews: one call per chapter, on a thread pool),
checked against the checkout; an invalid answer is asked again with the problems fed
back, up to CLAUDE_VALIDATION_RETRIES times. Valid answers are cached in the job's
scratch folder, so running a step twice (after a crash) pays only for what is missing,
and kept in the job store with what each call read, so a later job of the repository
asks again only the calls whose inputs changed (answers.py). Abstractions asked again
are told their previous answer and the change, to keep what still holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from analysis.claude import answers, cache, prompts
from analysis.claude.fanout import fan_out
from analysis.claude.guard import CallGuard
from analysis.claude.models import ChapterDraft, ChapterReview
from analysis.claude.records import summarize_calls
from analysis.claude.result import ClaudeCallFailed
from analysis.claude.runner import ClaudeCall, ClaudeRunner
from analysis.claude.settings import ClaudeSettings, StepName, load_claude_settings
from analysis.claude.transcript import CallReads
from analysis.claude.validate import (
    Checkout,
    check_abstractions,
    check_chapters,
    check_citations,
    check_order,
    check_relationships,
    check_review,
    check_tutorials,
)
from analysis.course.artifacts import (
    Abstraction,
    AbstractionsArtifact,
    Chapter,
    ChaptersArtifact,
    OrderArtifact,
    RelationshipsArtifact,
    ReviewArtifact,
    ReviewFinding,
    TutorialsArtifact,
)
from analysis.engine import Engine, StepContext
from checkout.tree_ids import bounded_diff
from fondation.errors import FondationError, JobCanceled, StepValidationError

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
R = TypeVar("R")
_MAX_REPORTED = 30


def _schema_problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors()[:_MAX_REPORTED]:
        where = ".".join(str(p) for p in err["loc"]) or "(the object)"
        out.append(f"{where}: {err['msg']}")
    return out


def _judge(
    data: dict[str, Any], model: type[M], check: Callable[[M], list[str]]
) -> tuple[M | None, list[str]]:
    """The answer as the model, and its problems: schema errors first, then the checks."""
    try:
        value = model.model_validate(data)
    except ValidationError as exc:
        return None, _schema_problems(exc)
    return value, check(value)


def _report(key: str, tries: int, problems: list[str]) -> str:
    lines = "\n".join(f"  - {p}" for p in problems[:_MAX_REPORTED])
    return f"{key}: the answer was still invalid after {tries} call(s):\n{lines}"


_STEP_CALLS = {1: "abstractions", 2: "relationships", 3: "order", 4: "chapters",
               5: "review", 6: "tutorials"}  # fmt: skip


class ClaudeEngine(Engine):
    name = "claude"

    def __init__(self, settings: ClaudeSettings | None = None) -> None:
        self.settings = settings if settings is not None else load_claude_settings()
        self.runner = ClaudeRunner(self.settings)
        self.guard = CallGuard(self.settings)
        # An unsupported CLI fails here, at worker start, not at a job's first call.
        self.runner.start()

    # --- one validated answer -------------------------------------------------------

    def _ask(
        self,
        ctx: StepContext,
        step: StepName,
        key: str,
        prompt: str,
        model: type[M],
        check: Callable[[M], list[str]],
        context: Callable[[], str] | None = None,
    ) -> M:
        """A valid answer, asking up to 1 + CLAUDE_VALIDATION_RETRIES times. Invalid answers
        are asked again with their problems; failed calls (error results, crashes, bad
        output) again as they were. When the last try was invalid: ``StepValidationError``
        (permanent); when it failed: ``ClaudeCallFailed`` (transient). Timeouts and
        cancels are not retried here; calls the API refused are asked again by the guard
        after the fleet's pause, or give the job back (``WorkDeferred``)."""
        schema = model.model_json_schema()
        cached = cache.load(ctx.work_dir, key, prompt, schema, model)
        if cached is not None and not check(cached):
            return cached
        question = answers.Question.of(step, key, prompt, schema, self.settings.model)
        kept = answers.reuse(ctx, question, model)
        if kept is not None and not check(kept):
            cache.save(ctx.work_dir, key, prompt, schema, kept)
            return kept
        # Asked again: what the call is told beyond its question (keep_what_holds).
        told = f"{prompt}\n\n{more}" if context is not None and (more := context()) else prompt
        tries = 1 + self.settings.validation_retries
        extra = {"job_id": ctx.job_id}
        problems: list[str] = []
        failure: ClaudeCallFailed | None = None
        reads = CallReads()  # of every try: a retry's prompt carries what the last one read
        for attempt in range(1, tries + 1):
            ctx.cancel.check()
            asked = prompts.with_feedback(told, problems) if problems else told
            call = ClaudeCall(step, key, asked, schema)
            try:
                traced = self.guard.run(ctx, partial(self.runner.run_traced, call, ctx))
            except ClaudeCallFailed as exc:
                failure = exc
                log.warning("%s: call %d/%d failed: %s", key, attempt, tries, exc, extra=extra)
                continue
            failure = None
            reads |= traced.reads
            value, problems = _judge(traced.output, model, check)
            if value is not None and not problems:
                cache.save(ctx.work_dir, key, prompt, schema, value)
                answers.keep(ctx, question, reads, value)
                return value
            log.warning("%s: answer %d/%d invalid: %s", key, attempt, tries, problems, extra=extra)
        if failure is not None:
            raise ClaudeCallFailed(f"{key}: gave up after {tries} call(s): {failure}") from failure
        raise StepValidationError(_report(key, tries, problems))

    # --- steps ------------------------------------------------------------------------

    def extract_abstractions(self, ctx: StepContext) -> AbstractionsArtifact:
        checkout = Checkout(ctx.checkout)
        prompt = prompts.abstractions_prompt(ctx.checkout, ctx.prompt)
        return self._ask(
            ctx,
            "abstractions",
            "abstractions",
            prompt,
            AbstractionsArtifact,
            lambda art: check_abstractions(art, checkout),
            context=lambda: _keep_what_holds(ctx, "abstractions"),
        )

    def analyze_relationships(self, ctx: StepContext) -> RelationshipsArtifact:
        abstractions = ctx.need_abstractions()
        checkout = Checkout(ctx.checkout)
        prompt = prompts.relationships_prompt(abstractions, ctx.prompt)
        return self._ask(
            ctx,
            "relationships",
            "relationships",
            prompt,
            RelationshipsArtifact,
            lambda art: check_relationships(art, abstractions, checkout),
        )

    def determine_order(self, ctx: StepContext) -> OrderArtifact:
        abstractions = ctx.need_abstractions()
        prompt = prompts.order_prompt(abstractions, ctx.need_relationships(), ctx.prompt)
        return self._ask(
            ctx,
            "order",
            "order",
            prompt,
            OrderArtifact,
            lambda art: check_order(art, abstractions),
        )

    def generate_chapters(self, ctx: StepContext) -> ChaptersArtifact:
        abstractions, order = ctx.need_abstractions(), ctx.need_order()
        relationships = ctx.need_relationships()
        checkout = Checkout(ctx.checkout)
        _require_valid("order", check_order(order, abstractions))
        by_id = {a.id: a for a in abstractions.abstractions}
        plan = [(i, by_id[aid]) for i, aid in enumerate(order.order, start=1)]

        def write(item: tuple[int, Abstraction]) -> Chapter:
            index, target = item
            prompt = prompts.chapter_prompt(
                target, index, abstractions, relationships, order, ctx.prompt
            )
            where = f"chapter {index} ({target.id})"
            draft = self._ask(
                ctx,
                "chapters",
                f"chapter-{index:02d}-{target.id}",
                prompt,
                ChapterDraft,
                lambda d: check_citations(d.citations, checkout, where),
            )
            return Chapter(
                index=index,
                abstraction_id=target.id,
                slug=target.id,  # unique, as ids are; the course adds the index
                title=draft.title,
                content=draft.content,
                citations=draft.citations,
            )

        def review_early(chapter: Chapter) -> None:
            self._review_early(ctx, chapter, len(plan), abstractions, order, checkout)

        early = review_early if self.settings.review_with_drafts else None
        chapters = self._fan_out(ctx, plan, write, early)
        art = ChaptersArtifact(chapters=chapters)
        _require_valid("chapters", check_chapters(art.chapters, abstractions, checkout))
        return art

    def review_chapters(self, ctx: StepContext) -> ReviewArtifact:
        abstractions, order = ctx.need_abstractions(), ctx.need_order()
        drafts = ctx.need_chapters().chapters
        checkout = Checkout(ctx.checkout)

        def review(chapter: Chapter) -> tuple[Chapter, list[ReviewFinding]]:
            answer = self._review(ctx, chapter, len(drafts), abstractions, order, checkout)
            fixed, findings = _reviewed(chapter, answer)
            ctx.chapter_reviewed(fixed)
            return fixed, findings

        results = self._fan_out(ctx, drafts, review)
        art = ReviewArtifact(
            chapters=[c for c, _ in results],
            findings=[f for _, found in results for f in found],
        )
        _require_valid("review", check_review(art, abstractions, checkout))
        return art

    def create_tutorials(self, ctx: StepContext) -> TutorialsArtifact:
        checkout = Checkout(ctx.checkout)
        prompt = prompts.tutorials_prompt(ctx.need_abstractions(), ctx.need_review(), ctx.prompt)
        return self._ask(
            ctx,
            "tutorials",
            "tutorials",
            prompt,
            TutorialsArtifact,
            lambda art: check_tutorials(art, checkout),
        )

    def reuse_identity(self) -> str:
        return f"{self.name}:{self.settings.model or 'the CLI default'}"

    def step_usage(self, ctx: StepContext, step: int) -> dict[str, Any] | None:
        """Cost, turns, tokens and call time of the step's CLI calls on this worker."""
        name = _STEP_CALLS.get(step)
        if name is None:
            return None
        steps: dict[str, dict[str, Any]] = summarize_calls(ctx.work_dir)["steps"]
        return steps.get(name)

    # --- reviews ----------------------------------------------------------------------

    def _review(
        self,
        ctx: StepContext,
        chapter: Chapter,
        total: int,
        abstractions: AbstractionsArtifact,
        order: OrderArtifact,
        checkout: Checkout,
    ) -> ChapterReview:
        """One chapter's review: the same question in step 5 and, asked early, in step 4,
        so that step 5 finds the early answer in the cache."""
        prompt = prompts.review_prompt(chapter, total, abstractions, order, ctx.prompt)
        where = f"reviewed chapter {chapter.index} ({chapter.slug})"
        return self._ask(
            ctx,
            "review",
            f"review-{chapter.index:02d}-{chapter.slug}",
            prompt,
            ChapterReview,
            lambda r: check_citations(r.citations, checkout, where),
        )

    def _review_early(
        self,
        ctx: StepContext,
        chapter: Chapter,
        total: int,
        abstractions: AbstractionsArtifact,
        order: OrderArtifact,
        checkout: Checkout,
    ) -> None:
        """Review a chapter as soon as its draft is done and a thread of the step is free,
        instead of after the slowest draft: step 5 then reads the answer from the job's
        cache. A review that fails here is left to step 5, and step 4 succeeds on its
        drafts alone."""
        try:
            answer = self._review(ctx, chapter, total, abstractions, order, checkout)
        except JobCanceled:
            raise
        except FondationError as exc:
            log.info(
                "review of chapter %d left to step 5: %s", chapter.index, exc,
                extra={"job_id": ctx.job_id},
            )  # fmt: skip
            return
        # Readable now, while the other drafts are written (the step's publisher).
        ctx.chapter_reviewed(_reviewed(chapter, answer)[0])

    # --- helpers ----------------------------------------------------------------------

    def _fan_out(
        self,
        ctx: StepContext,
        items: list[T],
        work: Callable[[T], R],
        follow_up: Callable[[R], None] | None = None,
    ) -> list[R]:
        def abort() -> None:
            # This thread was interrupted (a soft time limit): stop the running calls now
            # rather than wait for them. The token belongs to this run of the step only.
            ctx.cancel.cancel("step interrupted")

        return fan_out(items, work, self.settings.chapter_concurrency, abort, follow_up)


def _reviewed(chapter: Chapter, answer: ChapterReview) -> tuple[Chapter, list[ReviewFinding]]:
    """The chapter as its review corrected it, and what the review found."""
    fixed = chapter.model_copy(
        update={"title": answer.title, "content": answer.content, "citations": answer.citations}
    )
    findings = [
        ReviewFinding(chapter_slug=chapter.slug, kind=f.kind, message=f.message, fixed=f.fixed)
        for f in answer.findings
    ]
    return fixed, findings


def _require_valid(what: str, problems: list[str]) -> None:
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems[:_MAX_REPORTED])
        raise StepValidationError(f"{what} failed validation:\n{lines}")


def _keep_what_holds(ctx: StepContext, key: str) -> str:
    """The previous answer of ``key`` and the change since, when there is one."""
    before = answers.previous(ctx, key)
    if before is None:
        return ""
    diff = bounded_diff(ctx.checkout, before.commit, before.changed_files, prompts.MAX_DIFF_CHARS)
    return prompts.keep_what_holds(
        before.answer, before.changed_files, before.changed_folders, diff
    )
