"""compose/docker-compose.yml, run without Docker: each service's command as a local process
with the environment its container would get (tests/support/compose.py says how it is
translated), carrying a job from submission to completion."""

from __future__ import annotations

import base64
import functools
import json
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.main import STATE_DIR
from testbed import services
from testbed.gitrepo import make_repo
from tests.support import compose
from tests.support.compose import LocalProject, LocalService

pytestmark = [pytest.mark.acceptance, pytest.mark.timeout(300)]

WORKER_REPLICAS = 2


def _get(url: str, auth: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def _fondation(svc: LocalService, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m cli ...` inside a service's environment, as `docker compose exec`."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=svc.env,
        cwd=svc.cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _job(svc: LocalService, job_id: str) -> dict[str, Any]:
    out = _fondation(svc, "job", job_id, "--json")
    assert out.returncode == 0, out.stderr
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def _healthy(svc: LocalService) -> bool:
    return svc.check_health().returncode == 0


def _healthy_or_dead(svc: LocalService) -> bool:
    return _healthy(svc) or not svc.alive()


@pytest.fixture
def project(tmp_path: Path, redis_url: str) -> LocalProject:
    # The operator's compose/.env: the example, with the one value it must fill in.
    variables = {
        **compose.read_env_file(compose.ENV_EXAMPLE),
        "FLOWER_BASIC_AUTH": f"smoke:{secrets.token_urlsafe(12)}",
    }
    return LocalProject(variables, tmp_path / "compose", redis_url)


@pytest.fixture
def running(project: LocalProject) -> Iterator[dict[str, list[LocalService]]]:
    # Three departures from compose/.env: the repository to analyse is a folder on this
    # machine, the store is SQLite whatever the example chooses, and the engine is the
    # offline one, chosen explicitly (the stack's own default is claude).
    local = {"JOB_STORE": "sqlite", "ALLOW_LOCAL_REPOS": "true", "ANALYSIS_ENGINE": "offline"}
    started: dict[str, list[LocalService]] = {"bridge": [], "worker": [], "flower": []}
    try:
        started["bridge"].append(project.service("bridge", overrides=local).start())
        for n in range(1, WORKER_REPLICAS + 1):
            worker = project.service("worker", replica=n, overrides=local)
            started["worker"].append(worker.start())
        started["flower"].append(project.service("flower").start())
        yield started
    finally:
        for group in started.values():
            for svc in group:
                svc.kill()


def test_the_compose_services_carry_a_job_to_completion_and_stop_in_their_grace_periods(
    tmp_path: Path, project: LocalProject, running: dict[str, list[LocalService]]
) -> None:
    (bridge,), workers, (flower,) = running["bridge"], running["worker"], running["flower"]
    every = [bridge, *workers, flower]

    def why() -> str:
        return "\n".join(f"--- {s.name}\n{s.log()[-3000:]}" for s in every)

    # The bridge and the workers share the store through the "store" volume.
    assert {s.env["SQLITE_PATH"] for s in [bridge, *workers]} == {
        str(tmp_path / "compose" / "volumes" / "store" / "fondation.db")
    }
    for w in workers:
        services.wait_for(functools.partial(_healthy_or_dead, w), 60, f"{w.name} healthy")
        assert w.alive(), why()
    health_url = f"http://127.0.0.1:{bridge.env['HEALTH_PORT']}/health"
    services.wait_for(lambda: _get(health_url)[0] == 200 or not bridge.alive(), 60, "/health")
    assert bridge.alive(), why()
    assert _healthy(bridge), why()

    flower_url = f"http://127.0.0.1:{flower.argv[flower.argv.index('--port') + 1]}"
    services.wait_for(lambda: _get(f"{flower_url}/healthcheck")[0] == 200, 60, "Flower")
    assert _healthy(flower), why()
    assert _get(f"{flower_url}/api/workers")[0] == 401
    credentials = flower.env["FLOWER_BASIC_AUTH"]
    assert _get(f"{flower_url}/api/workers", credentials)[0] == 200
    assert _get(f"{flower_url}/api/workers", "smoke:wrong")[0] == 401

    repo = make_repo(tmp_path / "shop")
    submitted = _fondation(bridge, "submit", str(repo))
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip().splitlines()[-1]
    final: dict[str, Any] = {}

    def ended() -> bool:
        final.update(_job(bridge, job_id))
        return final["status"] in {"completed", "failed", "dead", "canceled"}

    services.wait_for(ended, 120, "the job to end", interval_s=1)
    assert final["status"] == "completed", (final, why())
    assert final["steps"]
    assert all(step["status"] == "completed" for step in final["steps"]), final["steps"]

    # `docker compose stop`: SIGTERM to each container's command through tini.
    stopping = time.monotonic()
    for svc in every:
        svc.signal(signal.SIGTERM, group=False)
    for svc in every:
        assert svc.proc is not None
        left_s = svc.stop_grace_s - (time.monotonic() - stopping)
        try:
            svc.proc.wait(max(left_s, 0.1))
        except subprocess.TimeoutExpired:
            pytest.fail(f"{svc.name} outlived its {svc.stop_grace_s} s grace period\n{why()}")
    # SIGTERM is the soft shutdown (REMAP_SIGTERM=SIGQUIT), not Celery's unbounded warm
    # one; an idle worker skips the soft wait and stops at once.
    for w in workers:
        assert "Cold shutdown" in w.log(), w.log()[-3000:]
        assert "Warm shutdown" not in w.log()
    # The liveness key dies with its TTL at the latest: the healthcheck then fails.
    services.wait_for(lambda: not _healthy(workers[0]), 30, "worker-health to fail")
    workdir = compose.image_config(compose.service_dockerfile(project.services["flower"])).workdir
    state = project.local_path("flower", f"{workdir}/{STATE_DIR}")
    assert list(state.glob("flower.db*")), "Flower did not save its state on the volume"


def test_a_compose_worker_without_a_claude_credential_refuses_to_start_naming_them(
    project: LocalProject,
) -> None:
    """The stack runs the claude engine by default; an operator who filled in no
    credential gets told what to set at start, not a failed step per job."""
    worker = project.service("worker", overrides={"JOB_STORE": "sqlite"})
    assert worker.env["ANALYSIS_ENGINE"] == "claude"
    assert not {"ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"} & worker.env.keys()
    worker.start()
    try:
        assert worker.proc is not None
        code = worker.proc.wait(60)
    finally:
        worker.kill()
    assert code != 0
    log = worker.log()
    assert "set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN" in log, log[-3000:]
    assert "ANALYSIS_ENGINE=offline" in log
