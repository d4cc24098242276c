"""Read while it writes, on a regenerate: the chapters of a review step reused whole
(same tree) are stored at once, before the tutorials step starts, through a real bridge
and worker with the offline engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.gitrepo import make_repo
from tests.integration.test_offline_reuse import REUSED, _logs, _run
from tests.integration.test_pipeline import _stack

pytestmark = pytest.mark.integration
REVIEW, TUTORIALS = 5, 6


def test_a_reused_review_step_stores_every_chapter_before_the_next_step_starts(
    tmp_path: Path, redis_url: str
) -> None:
    repo = make_repo(tmp_path / "shop")
    with _stack(tmp_path, redis_url, ANALYSIS_ENGINE="offline") as stack:
        first = _run(stack, repo, redis_url)
        # The second job's completion removes the first one's course: read it now.
        course = {
            d.slug: (d.title, d.content, d.source_key)
            for d in stack.store.get_docs(first.id)
            if d.kind == "chapter"
        }
        same = _run(stack, repo, redis_url)
        assert any(m.startswith("Reviewing chapters: " + REUSED) for m in _logs(stack, same.id))
        steps = {s.step: s for s in stack.store.step_states(same.id)}
        chapters = [d for d in stack.store.get_docs(same.id) if d.kind == "chapter"]
        assert chapters
        assert all(
            steps[REVIEW].started_at <= d.created_at <= steps[TUTORIALS].started_at
            for d in chapters
        )
        assert {d.slug: (d.title, d.content, d.source_key) for d in chapters} == course
