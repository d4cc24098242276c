"""Production Redis, with the services as processes: a Redis that speaks only TLS and
asks for a password (a managed Redis), and a Sentinel deployment whose master is killed
in the middle of a job. The password must show nowhere an operator or another user of
the host can read: logs, process arguments, the health view, Flower, the CLI."""

from __future__ import annotations

import collections
import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fondation.embedded_redis import free_port
from fondation.redis_url import parse_redis_url
from store.sqlite import SqliteStore
from testbed import services
from testbed.gitrepo import make_repo
from testbed.redis_servers import (
    Certificate,
    SentinelDeployment,
    TlsRedis,
    make_certificate,
    tls_redis_server,
)

pytestmark = pytest.mark.acceptance

REDIS_SERVER = tls_redis_server()
needs_tls_redis = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="no redis-server built with TLS (Debian's redis-server; .ci/run installs it)",
)


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path / "tls")


@pytest.fixture
def tls_redis(tmp_path: Path, certificate: Certificate) -> Iterator[TlsRedis]:
    assert REDIS_SERVER is not None
    # Characters a URL must percent-encode: the password is decoded the same everywhere.
    server = TlsRedis(REDIS_SERVER, tmp_path, certificate, f"pw;{secrets.token_hex(12)}@/x")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sentinels(tmp_path: Path, certificate: Certificate) -> Iterator[SentinelDeployment]:
    assert REDIS_SERVER is not None
    deployment = SentinelDeployment(
        REDIS_SERVER,
        tmp_path / "sentinel",
        certificate,
        password=f"master-{secrets.token_hex(12)}",
        sentinel_password=f"sentinel-{secrets.token_hex(12)}",
    )
    try:
        yield deployment
    finally:
        deployment.stop()


def _fondation(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        check=False, env=env, cwd=services.REPO_ROOT, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def _health_port(bridge: services.Service) -> int:
    found: list[int] = []

    def seen() -> bool:
        m = re.search(r"health view on port (\d+)", bridge.log())
        if m:
            found.append(int(m.group(1)))
        return bool(found)

    services.wait_for(seen, 30, "the health view to listen")
    return found[0]


def _assert_nowhere(secret_values: tuple[str, ...], seen: dict[str, str]) -> None:
    """No secret, raw or percent-encoded, in any of the texts (named by where they come from)."""
    from urllib.parse import quote

    for secret in secret_values:
        for form in {secret, quote(secret, safe="")}:
            leaks = [where for where, text in seen.items() if form in text]
            assert not leaks, f"a Redis password shows in: {leaks}"


def _job_finished_each_step_once(ledger: Path, job_id: str) -> dict[int, int]:
    rows = services.read_ledger(ledger)
    return dict(collections.Counter(r[3] for r in rows if r[2] == job_id and r[1] == "finish"))


@needs_tls_redis
def test_the_bridge_worker_flower_and_cli_run_a_job_on_tls_redis_and_show_its_password_nowhere(
    tmp_path: Path, tls_redis: TlsRedis
) -> None:
    flower_auth = f"operator:{secrets.token_hex(8)}"
    env = services.base_env(tmp_path, tls_redis.url(), FLOWER_BASIC_AUTH=flower_auth)
    worker = services.worker(tmp_path, env)
    bridge = services.bridge(tmp_path, env)
    flower_port = free_port()
    flower = services.flower(tmp_path, env, flower_port)
    every = [worker, bridge, flower]
    try:
        repo = make_repo(tmp_path / "shop")
        submitted = _fondation(env, "submit", str(repo))
        assert submitted.returncode == 0, submitted.stderr
        job_id = submitted.stdout.strip().splitlines()[-1]
        store = SqliteStore(Path(env["SQLITE_PATH"]))
        services.wait_for(lambda: store.get_job(job_id).is_final, 60, "the job to end")
        assert store.get_job(job_id).status == "completed", bridge.log()[-3000:]
        assert len(store.get_docs(job_id)) > 0

        seen: dict[str, str] = {"submit": submitted.stdout + submitted.stderr}
        health = _fondation(env, "worker-health")
        assert health.returncode == 0, health.stderr
        seen["worker-health"] = health.stdout + health.stderr
        settings = _fondation(env, "settings")
        assert "REDIS_URL" in settings.stdout
        seen["fondation settings"] = settings.stdout + settings.stderr

        # The certificate is verified: without the CA that signed it, no connection.
        untrusted = tls_redis.url().split("?")[0]
        refused = _fondation({**env, "REDIS_URL": untrusted}, "worker-health")
        assert refused.returncode != 0
        assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr, refused.stderr
        seen["worker-health without the CA"] = refused.stdout + refused.stderr

        base = f"http://127.0.0.1:{_health_port(bridge)}"
        report = httpx.get(f"{base}/health", timeout=10)
        assert report.json()["checks"]["redis"]["ok"], report.text
        for path in ("/health", "/metrics", "/"):
            seen[f"health view {path}"] = httpx.get(f"{base}{path}", timeout=10).text

        # Flower reaches the broker over TLS: it sees the worker, and its pages and its
        # API (the workers' configuration included) are among what is checked.
        flower_url = f"http://127.0.0.1:{flower_port}"
        user, password = flower_auth.split(":")
        auth = httpx.BasicAuth(user, password)

        def flower_sees_the_worker() -> bool:
            try:
                got = httpx.get(f"{flower_url}/api/workers?refresh=1", auth=auth, timeout=10)
            except httpx.HTTPError:
                return False
            seen["flower /api/workers"] = got.text
            return got.status_code == 200 and bool(got.json())

        services.wait_for(flower_sees_the_worker, 60, "Flower to see the worker", 0.5)
        assert "conf" in json.dumps(json.loads(seen["flower /api/workers"]))
        for path in ("/workers", "/broker", "/tasks"):
            page = httpx.get(f"{flower_url}{path}", auth=auth, timeout=10)
            assert page.status_code == 200, path
            seen[f"flower {path}"] = page.text
        assert "rediss://:**@" in seen["flower /broker"]

        for svc in every:
            seen[f"{svc.name} argv"] = "\n".join(services.session_command_lines(svc.pid))
        assert "cli flower --port" in seen["flower argv"]
    finally:
        for svc in every:
            svc.stop()
    for svc in every:
        seen[f"{svc.name} log"] = svc.log()
    # Celery's startup banner names the broker, with the password masked.
    assert re.search(r"transport:\s+rediss://:\*\*@127\.0\.0\.1", seen["worker log"])
    _assert_nowhere((tls_redis.password,), seen)


@needs_tls_redis
def test_when_the_sentinel_master_dies_mid_job_a_replica_takes_over_and_the_job_completes(
    tmp_path: Path, sentinels: SentinelDeployment
) -> None:
    ledger = tmp_path / "ledger.txt"
    env = services.base_env(
        tmp_path,
        sentinels.url(),
        LEDGER_PATH=str(ledger),
        STEP_DELAY_3_S="4",
        DELAY_FIRST_RUN_ONLY="1",
        # A pool process's first publish opens its Sentinel and master connections (two
        # TLS handshakes and a lookup, up to 0.4 s measured): at the suite's 0.3 s the
        # bridge could call that pause lost work (0.9 s) before the master is even killed.
        WORKER_LIVENESS_INTERVAL="1",
    )
    worker = services.worker(tmp_path, env)
    bridge = services.bridge(tmp_path, env)
    every = [worker, bridge]
    store = SqliteStore(Path(env["SQLITE_PATH"]))
    seen: dict[str, str] = {}
    try:
        submitted = _fondation(env, "submit", str(make_repo(tmp_path / "shop")))
        assert submitted.returncode == 0, submitted.stderr
        job_id = submitted.stdout.strip().splitlines()[-1]

        def step_3_started() -> bool:
            return any(r[1:] == ("start", job_id, 3) for r in services.read_ledger(ledger))

        services.wait_for(step_3_started, 60, "step 3 to start")
        old_master = sentinels.master()
        old_master.kill()
        killed_at = time.time()
        services.wait_for(lambda: store.get_job(job_id).is_final, 90, "the job to end")
        final = store.get_job(job_id)
        assert final.status == "completed", (final, bridge.log()[-3000:], worker.log()[-3000:])
        assert sentinels.master() is not old_master
        # Nothing lost and nothing committed twice: every step's artifact once, the docs.
        assert _job_finished_each_step_once(ledger, job_id) == {s: 1 for s in range(1, 7)}
        assert all(s.status == "completed" for s in store.get_steps(job_id))
        assert len(store.get_docs(job_id)) > 0
        after = [t for _, event, job, _, t in services.read_ledger_timed(ledger)
                 if job == job_id and event == "start" and t > killed_at]  # fmt: skip
        continued_s = min(after) - killed_at
        print(f"master killed; the job's next step started {continued_s:.2f} s later")
        assert continued_s < 30
        for svc in every:
            seen[f"{svc.name} argv"] = "\n".join(services.session_command_lines(svc.pid))
    finally:
        for svc in every:
            svc.stop()
    for svc in every:
        seen[f"{svc.name} log"] = svc.log()
    assert re.search(r"transport:\s+sentinel://:\*\*@127\.0\.0\.1", seen["worker log"])
    _assert_nowhere(parse_redis_url(sentinels.url()).secrets, seen)
