"""`fondation job` shows what reused work saved, summed from the steps' usage."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from store.records import JobSpec, RepositorySpec
from store.sqlite import SqliteStore

T0 = 1_700_000_000_000


def test_fondation_job_shows_the_calls_not_made_and_what_they_cost(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    store = SqliteStore(db)
    repo = store.upsert_repository(RepositorySpec(user_id="u", name="s", full_name="o/s"), T0)
    job, _ = store.create_job(JobSpec(user_id="u", repository_id=repo.id), T0)
    token = store.claim_batch("b", 1, 60_000, T0)[0].lease_token
    store.begin_step(job.id, token, 1, "w", T0)
    spent = {"calls": 1, "cost_usd": 0.016, "saved_calls": 1, "saved_cost_usd": 0.008,
             "reused": 1, "saved_input_tokens": 1000, "saved_output_tokens": 200}  # fmt: skip
    store.finish_step(job.id, token, 1, "{}", T0 + 1, json.dumps(spent))
    store.begin_step(job.id, token, 2, "w", T0 + 2)
    reused = {"calls": 0, "reused_steps": 1, "saved_calls": 3, "saved_cost_usd": 0.024}
    store.finish_step(job.id, token, 2, "{}", T0 + 3, json.dumps(reused))
    out = CliRunner().invoke(
        cli, ["job", job.id], env={"SQLITE_PATH": str(db), "JOB_STORE": "sqlite"}
    )
    assert out.exit_code == 0, out.output
    assert "reused: 1 call not made, $0.0080 saved, 1000+200 tokens saved" in out.output
    assert "reused: 4 calls not made, $0.0320 saved" in out.output
