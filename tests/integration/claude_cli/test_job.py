"""A whole job on the real CLI: a bridge and a Celery worker process on the SQLite store,
every step's calls answered by the scripted API, in the sandbox where it works."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.claude.transcript import split_events
from analysis.course.usage import total_usage
from cli.submit import submit_job
from fondation.settings import load_settings
from store.sqlite import SqliteStore
from testbed import services
from testbed.claude_api.cli import CLAUDE_BIN, FAKE_API_KEY
from testbed.claude_api.scenarios import recorded
from testbed.claude_api.server import ScriptedApi
from testbed.gitrepo import make_repo
from tests.integration.claude_cli.conftest import bwrap_works

pytestmark = pytest.mark.integration


def test_a_job_runs_all_six_steps_on_the_real_cli_through_a_worker(
    tmp_path: Path, redis_url: str
) -> None:
    repo = make_repo(tmp_path / "shop")
    with ScriptedApi(recorded("success")) as api:
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
            job, _ = submit_job(store, settings, str(repo), redis_url=redis_url)
            services.wait_for(lambda: store.get_job(job.id).is_final, 150, "the job to end")
            final = store.get_job(job.id)
            assert final.status == "completed", (final, w.log()[-3000:])
        finally:
            b.stop()
            w.stop()

    titles = [r.schema_title for r in api.messages()]
    # One call per single step, one per chapter (3) in steps 4 and 5; one request each.
    assert sorted(set(titles)) == sorted(
        ["AbstractionsArtifact", "RelationshipsArtifact", "OrderArtifact", "ChapterDraft",
         "ChapterReview", "TutorialsArtifact"]
    )  # fmt: skip
    assert len(titles) == 10
    for req in api.messages():
        assert sorted(req.tool_names) == ["Glob", "Grep", "Read", "StructuredOutput"]
    chapters = [d for d in store.get_docs(job.id) if d.kind == "chapter"]
    assert len(chapters) == 3
    # Cost and turns are the real CLI's own figures, summed per job as per step.
    raw = [p for p in (tmp_path / "work" / "raw").rglob("*.json") if ".meta" not in p.name]
    # Each raw output is the call's stream-json transcript; its last event the result.
    events = [split_events(p.read_bytes()) for p in raw]
    printed = [e[-1] for e in events if e and e[-1].get("type") == "result"]
    assert len(printed) == 10
    usage = total_usage(store.get_steps(job.id))
    assert usage["calls"] == 10
    assert usage["cost_usd"] == pytest.approx(sum(d["total_cost_usd"] for d in printed))
    assert usage["turns"] == sum(d["num_turns"] for d in printed)
    assert usage["duration_ms"] == sum(d["duration_ms"] for d in printed)
    assert usage["input_tokens"] == sum(d["usage"]["input_tokens"] for d in printed)
    assert FAKE_API_KEY not in w.log()
    # CLAUDE_SANDBOX=auto: inside bubblewrap wherever it works.
    assert ("sandbox bubblewrap" in w.log()) == bwrap_works()
