"""Bridges of one host claiming from one SQLite file at the same moment, as separate
processes with their own connections: no job is leased twice.

The contract suite's concurrent-claim test runs threads of one process; this is the
production shape (one bridge process per service, all on the host's store file). The
claim is one ``UPDATE ... RETURNING`` inside ``BEGIN IMMEDIATE``, so SQLite's write
lock orders the claimers; were the pending rows read outside that lock, two processes
would lease the same job and this test would see it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from store.records import JobSpec, RepositorySpec
from store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000
JOBS = 120
CLAIMERS = 4

# Each claimer opens the store, says it is ready, waits for "go" on stdin, then takes
# one job per transaction until the queue is empty, and prints its claims.
_CLAIMER = """
import json, sys
from store.sqlite import SqliteStore
store = SqliteStore(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
claims, empty = [], 0
while empty < 3:
    got = store.claim_batch(sys.argv[2], 1, 60_000, {now})
    empty = 0 if got else empty + 1
    claims += [[c.job.id, c.lease_token] for c in got]
print(json.dumps(claims), flush=True)
"""


def test_claimers_in_separate_processes_never_lease_the_same_job(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    store = SqliteStore(path)
    repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), T0)
    ids = {
        store.create_job(JobSpec(user_id="u", repository_id=repo.id), T0 + i)[0].id
        for i in range(JOBS)
    }
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER.format(now=T0 + JOBS), str(path), f"b{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
        )
        for n in range(CLAIMERS)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        # Every claimer is loaded and waiting: they start together.
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=60)[0] for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert [proc.returncode for proc in procs] == [0] * CLAIMERS
    per_claimer = [json.loads(out) for out in outputs]
    claimed = [job_id for claims in per_claimer for job_id, _ in claims]
    assert sorted(claimed) == sorted(ids), "a job was leased twice, or not at all"
    assert len({token for claims in per_claimer for _, token in claims}) == JOBS
    # The claimers did run at once: more than one of them won jobs.
    assert sum(1 for claims in per_claimer if claims) >= 2
    for n, claims in enumerate(per_claimer):
        assert {store.get_job(job_id).locked_by for job_id, _ in claims} <= {f"b{n}"}
    store.close()
