"""A job of eight chapters through the real Claude Code CLI, against the scripted
Messages API answering each call after a delay scaled from the seed's step times.

The seed's steps took 60, 60, 30, 60, 40 and 40 s a call (abstractions, relationships,
order, one chapter, one review, tutorials); scaled by 0.05 the model "thinks" 3, 3, 1.5,
3, 2 and 2 s. The same job runs once with every step that can fan out fanned out and
once one call at a time; the CLI's own start-up and turns are in both.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from analysis.claude import ClaudeEngine
from analysis.claude.settings import ClaudeSettings
from analysis.engine import StepContext
from testbed.claude_api.cli import CLAUDE_BIN, FAKE_API_KEY
from testbed.claude_api.server import Failure, Reply, Request, ScriptedApi, answer
from testbed.claude_double import SCENARIOS
from testbed.gitrepo import make_repo

SEED_STEP_S = {
    "AbstractionsArtifact": 60.0,
    "RelationshipsArtifact": 60.0,
    "OrderArtifact": 30.0,
    "ChapterDraft": 60.0,
    "ChapterReview": 40.0,
    "TutorialsArtifact": 40.0,
}
SCALE = 0.05
CHAPTERS = 8


def _recorded(name: str) -> dict[str, dict[str, Any]]:
    doc = json.loads((SCENARIOS / f"{name}.json").read_text(encoding="utf-8"))
    out: dict[str, dict[str, Any]] = {}
    for r in doc["responses"]:
        out.setdefault(r["schema"], r["structured_output"])
    return out


def answers() -> dict[str, dict[str, Any]]:
    """Valid answers for the shop repository with eight abstractions: the success
    recording's three, each used again under new ids, and the generic chapters."""
    success, generic = _recorded("success"), _recorded("fanout")
    base = success["AbstractionsArtifact"]["abstractions"]
    parts = [dict(base[i % len(base)], id=f"part-{i + 1}") for i in range(CHAPTERS)]
    ids = [p["id"] for p in parts]
    return {
        "AbstractionsArtifact": dict(success["AbstractionsArtifact"], abstractions=parts),
        "RelationshipsArtifact": {
            "summary": "Each part leans on the one before.",
            "relationships": [],
        },
        "OrderArtifact": {"order": ids, "rationale": "In the order they were found."},
        "ChapterDraft": generic["ChapterDraft"],
        "ChapterReview": generic["ChapterReview"],
        "TutorialsArtifact": success["TutorialsArtifact"],
    }


def scenario(scale: float) -> Any:
    known = answers()

    def reply(req: Request) -> Reply | Failure:
        title = req.schema_title
        if title not in known:
            return Failure(400, "invalid_request_error", f"no answer for {title!r}")
        return answer(known[title], delay_s=SEED_STEP_S[title] * scale)

    return reply


def run_job(concurrency: int, scale: float = SCALE) -> tuple[float, int]:
    """Wall seconds for the six steps with ``concurrency`` calls at once, and the calls."""
    root = Path(tempfile.mkdtemp(prefix="fondation-bench-claude-cli-"))
    repo = make_repo(root / "shop")
    with ScriptedApi(scenario(scale)) as api:
        settings = ClaudeSettings(
            bin=str(CLAUDE_BIN),
            base_url=api.url,
            anthropic_api_key=SecretStr(FAKE_API_KEY),
            chapter_concurrency=concurrency,
            timeout_s=120.0,
        )
        engine = ClaudeEngine(settings)
        ctx = StepContext("bench-job", repo, "", root / "work")
        started = time.monotonic()
        ctx.abstractions = engine.extract_abstractions(ctx)
        ctx.relationships = engine.analyze_relationships(ctx)
        ctx.order = engine.determine_order(ctx)
        ctx.chapters = engine.generate_chapters(ctx)
        ctx.review = engine.review_chapters(ctx)
        engine.create_tutorials(ctx)
        took_s = time.monotonic() - started
        calls = len(api.messages())
    return took_s, calls


def ideal_s(concurrency: int, scale: float = SCALE) -> float:
    """The delays alone: what the job would take with a CLI that cost nothing."""
    rounds = -(-CHAPTERS // concurrency)
    s = SEED_STEP_S
    fixed = s["AbstractionsArtifact"] + s["RelationshipsArtifact"] + s["OrderArtifact"]
    fixed += s["TutorialsArtifact"]
    return (fixed + rounds * (s["ChapterDraft"] + s["ChapterReview"])) * scale


# Per-chapter "thinking" times that vary as a real model's do: each chapter's draft and
# review take the seed's time times these factors (a spread of about 6x, mean 1).
DRAFT_FACTORS = (0.4, 1.9, 0.7, 1.3, 0.5, 2.4, 0.8, 1.0)
REVIEW_FACTORS = (1.2, 0.5, 1.6, 0.7, 1.1, 0.6, 1.4, 0.9)


def varied_scenario(scale: float) -> Any:
    """Answers as ``scenario``, but each chapter's draft and review take their own time."""
    known = answers()
    factors = {"ChapterDraft": DRAFT_FACTORS, "ChapterReview": REVIEW_FACTORS}

    def reply(req: Request) -> Reply | Failure:
        title = req.schema_title
        if title not in known:
            return Failure(400, "invalid_request_error", f"no answer for {title!r}")
        factor = 1.0
        if title in factors:
            part = req.prompt.split("Target abstraction: `part-", 1)
            index = int(part[1].split("`", 1)[0]) - 1 if len(part) == 2 else 0
            factor = factors[title][index % CHAPTERS]
        return answer(known[title], delay_s=SEED_STEP_S[title] * scale * factor)

    return reply


def run_steps_4_5(review_with_drafts: bool, scale: float = SCALE, concurrency: int = 4) -> float:
    """Wall seconds of steps 4 and 5 (8 chapters, ``concurrency`` at once) with per-chapter
    delays that vary, reviews started as drafts finish or after the slowest draft."""
    root = Path(tempfile.mkdtemp(prefix="fondation-bench-claude-reviews-"))
    repo = make_repo(root / "shop")
    with ScriptedApi(varied_scenario(scale)) as api:
        settings = ClaudeSettings(
            bin=str(CLAUDE_BIN),
            base_url=api.url,
            anthropic_api_key=SecretStr(FAKE_API_KEY),
            chapter_concurrency=concurrency,
            review_with_drafts=review_with_drafts,
            timeout_s=120.0,
        )
        engine = ClaudeEngine(settings)
        ctx = StepContext("bench-job", repo, "", root / "work")
        ctx.abstractions = engine.extract_abstractions(ctx)
        ctx.relationships = engine.analyze_relationships(ctx)
        ctx.order = engine.determine_order(ctx)
        started = time.monotonic()
        ctx.chapters = engine.generate_chapters(ctx)
        engine.review_chapters(ctx)
        return time.monotonic() - started
