"""A private stack for one benchmark: an embedded Redis, a SQLite store, a repository,
and bridges and workers as processes (the same helpers the tests use)."""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

from cli.submit import LOCAL_USER, repository_spec
from fondation import wake
from fondation.clock import now_ms
from fondation.embedded_redis import EmbeddedRedis
from fondation.settings import load_settings
from store.records import FINAL_STATUSES, JobSpec
from store.sqlite import SqliteStore
from testbed import services
from testbed.gitrepo import make_repo

BENCH_ENGINE = "bench.engine:FixedTimeEngine"
# Every step takes the set time, the clone included, and no git runs.
CLONE_FREE_ENGINE = "bench.engine:FixedTimeCloneEngine"


class Stack:
    def __init__(self, name: str, **env: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"fondation-bench-{name}-"))
        self.redis = EmbeddedRedis(self.root / "redis", persist=False)
        self.redis.start()
        defaults = {
            "ANALYSIS_ENGINE": BENCH_ENGINE, "LOG_LEVEL": "WARNING",
            "MAX_CONCURRENT_JOBS": "64", "QUEUE_HIGH_WATER": "64",
            "POLL_INTERVAL": "5000", "HEARTBEAT_INTERVAL": "60000", "LEASE_TIME": "300000",
            "WORKER_LIVENESS_INTERVAL": "2",
        }  # fmt: skip
        self.env = services.base_env(self.root, self.redis.url, **{**defaults, **env})
        self.store = SqliteStore(Path(self.env["SQLITE_PATH"]))
        self.settings = load_settings(
            allow_local_repos=True, sqlite_path=Path(self.env["SQLITE_PATH"])
        )
        self.repo = make_repo(self.root / "repo")
        self.procs: list[services.Service] = []
        self._repository_id: str | None = None
        self._redis: redis.Redis | None = None

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for p in self.procs:
            p.kill()
        if self._redis is not None:
            self._redis.close()
        self.redis.stop()

    @property
    def repo_uri(self) -> str:
        """The benchmark repository as git is given it (file://)."""
        return self.repo.resolve().as_uri()

    def redis_pid(self) -> int:
        return int(self._redis_client().info("server")["process_id"])

    def worker(self, concurrency: int = 2, name: str = "w", **env: str) -> services.Service:
        svc = services.worker(self.root, {**self.env, **env}, name=name, concurrency=concurrency)
        self.procs.append(svc)
        return svc

    def bridge(self, name: str = "b", **env: str) -> services.Service:
        svc = services.bridge(self.root, {**self.env, **env}, name=name)
        self.procs.append(svc)
        return svc

    def wait_ready(self, workers: int = 1, timeout_s: float = 30) -> None:
        client = self._redis_client()
        services.wait_for(
            lambda: len(list(client.scan_iter("fondation:worker:*"))) >= workers,
            timeout_s,
            "workers to be ready",
        )
        time.sleep(0.5)

    def submit(self, announce: bool = True) -> str:
        """Insert a job as the web app does: a row for a repository it already knows,
        then a wake-up. The CLI's path (``submit_job``) would also run git on the local
        repository for each job, work no web-app insert does, on the cores being measured."""
        if self._repository_id is None:
            spec = repository_spec(str(self.repo), self.settings)
            self._repository_id = self.store.upsert_repository(spec, now_ms()).id
        job, _ = self.store.create_job(
            JobSpec(user_id=LOCAL_USER, repository_id=self._repository_id), now_ms()
        )
        if announce:
            wake.announce(self._redis_client())
        return job.id

    def _redis_client(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.redis.url)
        return self._redis

    def wait_done(self, ids: list[str], timeout_s: float = 600) -> None:
        # One COUNT per poll on a read-only connection: the benchmark must not steal the
        # workers' CPU (decoding whole job rows every 20 ms cost tens of ms per job).
        db = sqlite3.connect(f"file:{self.env['SQLITE_PATH']}?mode=ro", uri=True)
        final = ",".join(f"'{s}'" for s in sorted(FINAL_STATUSES))
        query = (
            f"SELECT COUNT(*) FROM jobs WHERE status IN ({final})"
            f" AND id IN ({','.join('?' * len(ids))})"
        )
        try:
            services.wait_for(
                lambda: db.execute(query, ids).fetchone()[0] == len(ids),
                timeout_s,
                f"{len(ids)} jobs",
                interval_s=0.02,
            )
        finally:
            db.close()
        bad = [i for i in ids if self.store.get_job(i).status != "completed"]
        if bad:
            raise RuntimeError(f"{len(bad)} benchmark jobs did not complete")

    def pickup_ms(self, job_id: str) -> float:
        """From the job's insert to the start of its first step."""
        job = self.store.get_job(job_id)
        first = min(s.started_at for s in self.store.get_steps(job_id))
        return float(first - job.created_at)

    def end_to_end_s(self, job_id: str) -> float:
        job = self.store.get_job(job_id)
        assert job.completed_at is not None
        return (job.completed_at - job.created_at) / 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
