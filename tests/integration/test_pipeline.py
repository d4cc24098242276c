"""Whole jobs through a real bridge and a real Celery worker process on a real Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.store.sqlite import SqliteStore
from fondation.settings import load_settings
from fondation.submit import submit_job
from tests.support import services
from tests.support.gitrepo import make_repo

pytestmark = pytest.mark.integration


def _store(env: dict[str, str]) -> SqliteStore:
    return SqliteStore(Path(env["SQLITE_PATH"]))


def test_a_job_runs_every_step_once_and_stores_the_course(tmp_path: Path, redis_url: str) -> None:
    repo = make_repo(tmp_path / "shop")
    ledger = tmp_path / "ledger.txt"
    env = services.base_env(tmp_path, redis_url, LEDGER_PATH=str(ledger))
    store = _store(env)
    settings = load_settings(allow_local_repos=True, sqlite_path=Path(env["SQLITE_PATH"]))
    w = services.worker(tmp_path, env)
    b = services.bridge(tmp_path, env)
    try:
        job, _ = submit_job(store, settings, str(repo), redis_url=redis_url)
        services.wait_for(lambda: store.get_job(job.id).is_final, 60, "the job to end")
        final = store.get_job(job.id)
        assert final.status == "completed", (final, w.log()[-3000:], b.log()[-3000:])
        steps = store.get_steps(job.id)
        assert [(s.step, s.status, s.runs) for s in steps] == [
            (i, "completed", 1) for i in range(8)
        ]
        kinds = sorted({d.kind for d in store.get_docs(job.id)})
        assert kinds == ["chapter", "toc", "tutorial", "yaml"]
        assert final.docs_count == len(store.get_docs(job.id))
        starts = [r for r in services.read_ledger(ledger) if r[1] == "start"]
        assert sorted(r[3] for r in starts) == [1, 2, 3, 4, 5, 6]
        # TEMP_DIR is cleaned after success.
        assert not list((tmp_path / "work" / "jobs").glob("*"))
        logs = [entry.msg for entry in store.get_logs(job.id)]
        assert any(m.startswith("Step 3/6: Determining order") for m in logs)
    finally:
        b.stop()
        w.stop()
