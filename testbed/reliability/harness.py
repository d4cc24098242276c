"""One isolated stack per scenario run: its own Redis (embedded, on a fixed port so it
can be killed and restarted), its own SQLite store, repository and ledger."""

from __future__ import annotations

import collections
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from cli.submit import submit_job
from fondation.embedded_redis import EmbeddedRedis
from fondation.settings import load_settings
from store.records import JobSpec, RepositorySpec
from store.sqlite import SqliteStore
from testbed import services
from testbed.gitrepo import make_repo


@dataclass
class Outcome:
    """What one run of a scenario showed."""

    scenario: str
    jobs: int
    lost: int
    doubled: int
    recovery_s: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Harness:
    def __init__(self, root: Path, **env_extra: str) -> None:
        self.root = root
        self.redis = EmbeddedRedis(root / "redis", persist=True)
        self.redis.start()
        self.ledger = root / "ledger.txt"
        self.env = services.base_env(
            root, self.redis.url, LEDGER_PATH=str(self.ledger), **env_extra
        )
        self.store = SqliteStore(Path(self.env["SQLITE_PATH"]))
        self.settings = load_settings(
            allow_local_repos=True, sqlite_path=Path(self.env["SQLITE_PATH"])
        )
        self.repo = make_repo(root / "repo")
        self.procs: list[services.Service] = []

    # --- processes ------------------------------------------------------------------

    def worker(self, name: str, concurrency: int = 2, **env: str) -> services.Service:
        svc = services.worker(self.root, {**self.env, **env}, name=name, concurrency=concurrency)
        self.procs.append(svc)
        return svc

    def bridge(self, name: str, **env: str) -> services.Service:
        svc = services.bridge(self.root, {**self.env, **env}, name=name)
        self.procs.append(svc)
        return svc

    def close(self) -> None:
        for svc in self.procs:
            svc.kill()
        self.redis.stop()
        self.store.close()

    # --- jobs -----------------------------------------------------------------------

    def submit(self, count: int = 1, max_attempts: int = 5) -> list[str]:
        ids = []
        for _ in range(count):
            job, _ = submit_job(self.store, self.settings, str(self.repo), redis_url=self.redis.url)
            ids.append(job.id)
        if max_attempts != 5:
            db = sqlite3.connect(self.env["SQLITE_PATH"])
            db.executemany(
                "UPDATE jobs SET maxAttempts=? WHERE id=?", [(max_attempts, i) for i in ids]
            )
            db.commit()
            db.close()
        return ids

    def insert_raw(self, clone_url: str) -> str:
        repo = self.store.upsert_repository(
            RepositorySpec(
                user_id="u", name="r", full_name=f"o/r{time.time_ns()}", clone_url=clone_url
            ),
            1,
        )
        return self.store.create_job(JobSpec(user_id="u", repository_id=repo.id), 1)[0].id

    def wait_final(self, ids: list[str], timeout_s: float) -> None:
        services.wait_for(
            lambda: all(self.store.get_job(i).is_final for i in ids),
            timeout_s,
            f"{len(ids)} jobs to end",
            interval_s=0.1,
        )

    def wait_status(self, job_id: str, status: str, timeout_s: float = 60) -> None:
        services.wait_for(
            lambda: self.status(job_id) == status,
            timeout_s,
            f"{job_id} to be {status}",
            interval_s=0.02,
        )

    def status(self, job_id: str) -> str:
        return self.store.get_job(job_id).status

    # --- the ledger -----------------------------------------------------------------

    def starts(self, job_id: str) -> dict[int, int]:
        rows = [r for r in services.read_ledger(self.ledger) if r[2] == job_id and r[1] == "start"]
        return dict(collections.Counter(r[3] for r in rows))

    def wait_started(self, job_id: str, step: int, timeout_s: float = 60) -> None:
        services.wait_for(
            lambda: self.starts(job_id).get(step, 0) >= 1,
            timeout_s,
            f"step {step} of {job_id} to start",
            interval_s=0.02,
        )

    def next_start_after(self, job_id: str, step: int, after: float) -> float | None:
        for _, event, job, st, ts in services.read_ledger_timed(self.ledger):
            if job == job_id and event == "start" and st >= step and ts > after:
                return ts
        return None

    def doubled(self, ids: list[str]) -> int:
        """Steps run again after they were committed. A step is committed once the chain
        moved past it: so a start of step k after a start of a later step is a re-run of
        finished work. (A step killed after its engine wrote "finish" but before its
        artifact was stored was not finished, and running it again is right.)"""
        count = 0
        for job_id in ids:
            later_started: set[int] = set()
            for _, event, job, step in services.read_ledger(self.ledger):
                if job != job_id or event != "start":
                    continue
                if any(s > step for s in later_started):
                    count += 1
                later_started.add(step)
        return count

    def gaps(self, ids: list[str]) -> int:
        """Completed jobs whose ledger misses the finish of a step."""
        count = 0
        for job_id in ids:
            if self.status(job_id) != "completed":
                continue
            done = {st for _, ev, job, st in services.read_ledger(self.ledger)
                    if job == job_id and ev == "finish"}  # fmt: skip
            count += len(set(range(1, 7)) - done)
        return count

    def lost(self, ids: list[str], expected: str = "completed") -> int:
        return sum(1 for i in ids if self.status(i) != expected)

    def outcome(
        self,
        name: str,
        ids: list[str],
        expected: str = "completed",
        recovery: list[float] | None = None,
    ) -> Outcome:
        lost = self.lost(ids, expected) + self.gaps(ids)
        return Outcome(name, len(ids), lost, self.doubled(ids), recovery or [])
