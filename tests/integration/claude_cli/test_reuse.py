"""Regenerates on the real CLI: a bridge and a worker on the SQLite store, the calls
answered by the scripted API after reading the files a real model would. The same
commit again makes no call; a change to one chapter's file asks again only the calls
that read it; another repository with the same files reuses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from analysis.course.usage import total_usage
from cli.submit import submit_job
from fondation.settings import Settings, load_settings
from store.records import JobRecord
from store.sqlite import SqliteStore
from testbed import services
from testbed.claude_api.cli import CLAUDE_BIN, FAKE_API_KEY
from testbed.claude_api.scenarios import reading_first, recorded, shop_reads
from testbed.claude_api.server import ScriptedApi
from testbed.gitrepo import git, make_repo

pytestmark = pytest.mark.integration


@dataclass
class Rig:
    api: ScriptedApi
    store: SqliteStore
    settings: Settings
    redis_url: str
    worker: services.Service

    def run(self, repo: Path, *, fresh: bool = False) -> tuple[JobRecord, list[str]]:
        """One job of ``repo`` to its end: the job and the calls it made (by schema)."""
        before = len(self.api.messages())
        job, _ = submit_job(
            self.store, self.settings, str(repo), fresh=fresh, redis_url=self.redis_url
        )
        services.wait_for(lambda: self.store.get_job(job.id).is_final, 150, "the job to end")
        final = self.store.get_job(job.id)
        assert final.status == "completed", (final, self.worker.log()[-3000:])
        # A call's first request is the one at turn 0; its later turns are the same call.
        calls = [r.schema_title for r in self.api.messages()[before:] if r.turn == 0]
        assert all(calls), "a request without the answer's tool"
        return final, calls

    def docs(self, job_id: str) -> dict[str, str]:
        return {d.slug: d.content for d in self.store.get_docs(job_id)}

    def logs(self, job_id: str) -> list[str]:
        return [line.msg for line in self.store.get_logs(job_id)]


@pytest.fixture
def rig(tmp_path: Path, redis_url: str) -> Iterator[Rig]:
    with ScriptedApi(reading_first(recorded("success"), shop_reads)) as api:
        env = services.base_env(
            tmp_path,
            redis_url,
            ANALYSIS_ENGINE="claude",
            CLAUDE_BIN=str(CLAUDE_BIN),
            ANTHROPIC_API_KEY=FAKE_API_KEY,
            ANTHROPIC_BASE_URL=api.url,
            CLAUDE_TIMEOUT_S="60",
        )
        store = SqliteStore(Path(env["SQLITE_PATH"]))
        settings = load_settings(allow_local_repos=True, sqlite_path=Path(env["SQLITE_PATH"]))
        w = services.worker(tmp_path, env)
        b = services.bridge(tmp_path, env)
        try:
            yield Rig(api, store, settings, redis_url, w)
        finally:
            b.stop()
            w.stop()


ALL_CALLS = 10  # 3 single steps, 3 chapters, 3 reviews, the tutorials


def test_a_regenerate_asks_again_only_the_calls_whose_inputs_changed(
    rig: Rig, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "shop")
    first, calls = rig.run(repo)
    assert len(calls) == ALL_CALLS
    # A completion removes the repository's older course: read each one when it ends.
    before = rig.docs(first.id)
    assert first.regeneration_stats == {
        "inserted": len(before), "updated": 0, "skipped": 0, "rejected": 0, "deleted": 0
    }  # fmt: skip

    # The same commit: no call at all, and the same course.
    same, calls = rig.run(repo)
    assert calls == []
    assert rig.docs(same.id) == before
    assert same.regeneration_stats == {
        "inserted": 0, "updated": 0, "skipped": len(before), "rejected": 0, "deleted": 0
    }  # fmt: skip
    assert any("reused, the repository's tree is unchanged" in m for m in rig.logs(same.id))
    usage = total_usage(rig.store.get_steps(same.id))
    assert usage["calls"] == 0
    assert usage["saved_calls"] == ALL_CALLS

    # A comment at the end of checkout.py: the calls that read it are asked again (the
    # abstractions also searched the whole tree), nothing else.
    path = repo / "shop" / "checkout.py"
    path.write_text(path.read_text() + "# Receipts are plain text for now.\n")
    git(repo, "commit", "-qam", "a comment")
    changed, calls = rig.run(repo)
    assert sorted(calls) == sorted(
        ["AbstractionsArtifact", "RelationshipsArtifact", "ChapterDraft", "ChapterReview"]
    )
    asked = [r for r in rig.api.messages() if r.turn == 0][-2:]
    # The abstractions were asked again with their previous answer and the change.
    again = next(
        r for r in rig.api.messages()
        if r.turn == 0 and r.schema_title == "AbstractionsArtifact"
    )  # fmt: skip
    assert "## Your previous answer" not in again.prompt  # the first job had none
    again = [r for r in rig.api.messages() if r.turn == 0
             and r.schema_title == "AbstractionsArtifact"][-1]  # fmt: skip
    assert "## Your previous answer, for an earlier version" in again.prompt
    assert "- shop/checkout.py" in again.prompt
    chapter_calls = [r for r in asked if r.schema_title.startswith("Chapter")]
    assert all("Target abstraction: `checkout`" in r.prompt for r in chapter_calls)
    logs = rig.logs(changed.id)
    why = "chapter-03-checkout: asked again, shop/checkout.py changed"
    assert any(why in m for m in logs), logs
    after = rig.docs(changed.id)
    untouched = [s for s in before if "checkout" not in s]
    assert untouched
    assert all(before[s] == after[s] for s in untouched)
    usage = total_usage(rig.store.get_steps(changed.id))
    assert usage["calls"] == 4
    assert usage["reused"] == ALL_CALLS - 4

    # --fresh: everything again, whatever is kept.
    _, calls = rig.run(repo, fresh=True)
    assert len(calls) == ALL_CALLS


def test_another_repository_with_the_same_files_reuses_nothing(rig: Rig, tmp_path: Path) -> None:
    rig.run(make_repo(tmp_path / "shop"))
    _, calls = rig.run(make_repo(tmp_path / "twin"))
    assert len(calls) == ALL_CALLS
