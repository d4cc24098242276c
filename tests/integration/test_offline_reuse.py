"""Regenerates with the offline engine through a real bridge and worker: the same
commit again takes every step as it was and stores the same course; a new commit runs
every step again (its parse of unchanged files is reused: see
tests/unit/engines/test_offline_shared_parse.py); --fresh runs everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.submit import submit_job
from store.records import JobRecord
from testbed import services
from testbed.gitrepo import git, make_repo
from tests.integration.test_pipeline import _Stack, _stack

pytestmark = pytest.mark.integration
REUSED = "reused, the repository's tree is unchanged"


def _run(stack: _Stack, repo: Path, redis_url: str, *, fresh: bool = False) -> JobRecord:
    job, _ = submit_job(stack.store, stack.settings, str(repo), fresh=fresh, redis_url=redis_url)
    services.wait_for(lambda: stack.store.get_job(job.id).is_final, 60, "the job to end")
    final = stack.store.get_job(job.id)
    assert final.status == "completed", (final, stack.worker.log()[-3000:])
    return final


def _logs(stack: _Stack, job_id: str) -> list[str]:
    return [entry.msg for entry in stack.store.get_logs(job_id)]


def test_an_offline_regenerate_reuses_the_steps_of_the_same_tree_only(
    tmp_path: Path, redis_url: str
) -> None:
    repo = make_repo(tmp_path / "shop")
    with _stack(tmp_path, redis_url, ANALYSIS_ENGINE="offline") as stack:
        first = _run(stack, repo, redis_url)
        course = {d.slug: d.content for d in stack.store.get_docs(first.id)}
        same = _run(stack, repo, redis_url)
        assert sum(REUSED in m for m in _logs(stack, same.id)) == 6
        assert {d.slug: d.content for d in stack.store.get_docs(same.id)} == course
        assert same.regeneration_stats is not None
        assert same.regeneration_stats["skipped"] == len(course)
        assert same.regeneration_stats["inserted"] == 0

        (repo / "shop" / "cart.py").write_text(
            (repo / "shop" / "cart.py").read_text() + "\n\ndef empty() -> None:\n    pass\n"
        )
        git(repo, "commit", "-qam", "a new function in the cart")
        changed = _run(stack, repo, redis_url)
        assert not any(REUSED in m for m in _logs(stack, changed.id))
        assert changed.regeneration_stats is not None
        assert changed.regeneration_stats["updated"] >= 1

        fresh = _run(stack, repo, redis_url, fresh=True)
        assert not any(REUSED in m for m in _logs(stack, fresh.id))
