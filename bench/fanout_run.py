"""Steps 4 and 5 of the Claude engine with eight chapters, against the CLI test double
answering each call after a fixed delay."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from analysis.claude import ClaudeEngine
from analysis.course.artifacts import (
    Abstraction,
    AbstractionsArtifact,
    OrderArtifact,
    RelationshipsArtifact,
)
from analysis.engine import StepContext
from testbed.claude_double import double_settings, make_claude_bin
from testbed.gitrepo import make_repo

_REPOS: dict[str, Path] = {}


def _context(root: Path, repo: Path) -> StepContext:
    ctx = StepContext("bench-job", repo, "", root / "work")
    files = ["shop/models.py", "shop/cart.py", "shop/checkout.py", "README.md"]
    ids = [f"part-{i}" for i in range(1, 9)]
    ctx.abstractions = AbstractionsArtifact(
        project_name="shop", summary="A shop.",
        abstractions=[Abstraction(id=a, name=f"Part {a}", summary=f"About {a}.",
                                  files=[files[i % len(files)]]) for i, a in enumerate(ids)],
    )  # fmt: skip
    ctx.relationships = RelationshipsArtifact(summary="s", relationships=[])
    ctx.order = OrderArtifact(order=ids)
    return ctx


def run_steps_4_5(concurrency: int, delay_s: float) -> float:
    """Seconds for steps 4 then 5 with ``concurrency`` chapter calls at once."""
    root = Path(tempfile.mkdtemp(prefix="fondation-bench-fanout-"))
    if "shop" not in _REPOS:
        _REPOS["shop"] = make_repo(root / "shop")
    claude = make_claude_bin(root / "bin", "fanout", CLAUDE_DOUBLE_DELAY_S=str(delay_s))
    engine = ClaudeEngine(double_settings(claude, chapter_concurrency=concurrency))
    ctx = _context(root, _REPOS["shop"])
    started = time.monotonic()
    ctx.chapters = engine.generate_chapters(ctx)
    engine.review_chapters(ctx)
    return time.monotonic() - started
