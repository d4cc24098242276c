"""The container tier (`make compose-test`): both images built from the Dockerfiles as
they are and compose/docker-compose.yml run with podman, as an operator without Docker
would (compose/README.md, "With podman"). A job from a repository mounted into the
containers completes; the health view, the metrics, the dashboard and Flower answer;
two workers share the jobs; the images run as a user that is not root, carry the pinned
Claude CLI and no credential; stopping leaves nothing behind.

It needs root and a few minutes, so `make test` skips it; `.ci/run` runs it after.
Each phase's time and the image sizes are written to the terminal and to
.fondation/compose-test.json.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from testbed.gitrepo import make_repo
from testbed.services import REPO_ROOT
from tests.support import compose, podman

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("FONDATION_CONTAINER_TIER") != "1",
        reason="the container tier runs with `make compose-test`",
    ),
    pytest.mark.timeout(1800),
]

PROJECT = "fondation-tier"
WORKER_TAG = "localhost/fondation-worker:compose-test"
BRIDGE_TAG = "localhost/fondation-bridge:compose-test"
# The image's user (Dockerfile USER 10001:10001), which must be able to read the repository.
IMAGE_UID = 10001
REPO_IN_CONTAINER = "/srv/repo"
JOB_TIMEOUT_S = 120
FINAL = {"completed", "failed", "dead", "canceled"}


@dataclass
class Tier:
    folder: Path
    log: Path
    secrets: dict[str, str]
    project: podman.Project | None = None
    ports: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    sizes_mb: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases[name] = round(time.monotonic() - started, 1)

    @property
    def stack(self) -> podman.Project:
        assert self.project is not None
        return self.project

    def one(self, service: str) -> str:
        [name] = self.stack.containers(service)
        return name

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"


def _free_port() -> int:
    from fondation.embedded_redis import free_port

    return free_port()


def _get(url: str, auth: str | None = None, accept: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url)
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    if accept is not None:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return (
                response.status,
                response.headers.get("Content-Type", ""),
                response.read().decode(),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def _env_file(tier_secrets: dict[str, str], ports: dict[str, int]) -> str:
    """compose/.env.example with the tier's values: the secrets it scans the images for,
    free host ports, local repositories allowed (the repository is mounted), and the
    offline engine, chosen explicitly: the stack's default is claude, and the tier's API
    key is a fake one no API would take."""
    values = {
        **compose.read_env_file(compose.ENV_EXAMPLE),
        **tier_secrets,
        "ANALYSIS_ENGINE": "offline",
        "ALLOW_LOCAL_REPOS": "true",
        "POLL_INTERVAL": "1000",
        "HEALTH_HOST_PORT": str(ports["bridge"]),
        "FLOWER_HOST_PORT": str(ports["flower"]),
        "FLOWER_URL": f"http://127.0.0.1:{ports['flower']}",
    }
    return "".join(f"{k}={v}\n" for k, v in values.items())


@pytest.fixture(scope="module")
def tier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tier]:
    folder = tmp_path_factory.mktemp("tier")
    (REPO_ROOT / ".fondation").mkdir(exist_ok=True)
    log = REPO_ROOT / ".fondation" / "compose-test.log"
    log.write_text("")
    # Credentials of the kinds an operator's compose/.env holds; none may reach an image.
    found = Tier(
        folder,
        log,
        {
            "FLOWER_BASIC_AUTH": f"operator:{secrets.token_hex(12)}",
            "ANTHROPIC_API_KEY": f"sk-ant-api03-{secrets.token_hex(20)}",
            "GIT_TOKEN": f"ghp_{secrets.token_hex(18)}",
            "CONVEX_WORKER_SECRET": secrets.token_hex(16),
        },
    )
    try:
        with found.phase("install tools"):
            try:
                podman.ensure_tools(log)
            except podman.ToolMissing as exc:
                pytest.skip(str(exc))
        with found.phase("base images"):
            podman.make_base_images(log)
        found.ports = {"bridge": _free_port(), "flower": _free_port()}
        env_file = _env_file(found.secrets, found.ports)
        # The build sees what a working copy holds: an operator's compose/.env and a .env
        # at the root, which .dockerignore must keep out.
        context = podman.build_context(
            folder / "context", {"compose/.env": env_file, ".env": env_file}
        )
        with found.phase("build worker image"):
            podman.build_image(context / "Dockerfile.worker", WORKER_TAG, context, log)
        with found.phase("build bridge image"):
            podman.build_image(context / "Dockerfile.bridge", BRIDGE_TAG, context, log)
        for tag in (WORKER_TAG, BRIDGE_TAG):
            size = podman.image_inspect(tag)["Size"]
            assert isinstance(size, int)
            found.sizes_mb[tag] = round(size / 1e6)

        repo = make_repo(folder / "repo")
        subprocess.run(["chown", "-R", f"{IMAGE_UID}:{IMAGE_UID}", str(repo)], check=True)
        mount = f"{repo}:{REPO_IN_CONTAINER}:ro"
        found.project = podman.Project(
            PROJECT,
            folder / "compose",
            env_file,
            {
                "REDIS_IMAGE": podman.local_tag(podman.compose_image_default("redis")),
                "BRIDGE_IMAGE": BRIDGE_TAG,
                "WORKER_IMAGE": WORKER_TAG,
            },
            # The repository, where the bridge (`fondation submit`) and workers see it.
            extra={
                "docker-compose.tier.yml": (
                    "services:\n"
                    f"  bridge:\n    volumes:\n      - {mount}\n"
                    f"  worker:\n    volumes:\n      - {mount}\n"
                )
            },
            log=log,
        )
        found.stack.down()  # what an interrupted run left
        with found.phase("stack up and healthy"):
            found.stack.compose("up", "--detach")
            found.stack.wait_healthy(found.stack.containers(), 120)
        yield found
    finally:
        if found.project is not None and found.project.containers():
            found.project.down()
        report = {"phases_s": found.phases, "image_sizes_mb": found.sizes_mb}
        (REPO_ROOT / ".fondation" / "compose-test.json").write_text(json.dumps(report, indent=1))
        print(f"\ncontainer tier: {json.dumps(report)}", file=sys.__stderr__)


def _submit(tier: Tier) -> str:
    out = tier.stack.exec(tier.one("bridge"), "fondation", "submit", REPO_IN_CONTAINER)
    return out.strip().splitlines()[-1]


def _job(tier: Tier, job_id: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        tier.stack.exec(tier.one("bridge"), "fondation", "job", job_id, "--json")
    )
    return found


def _wait_jobs(tier: Tier, job_ids: list[str]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        jobs = [_job(tier, job_id) for job_id in job_ids]
        if all(j["status"] in FINAL for j in jobs) or time.monotonic() > deadline:
            return jobs
        time.sleep(1)


def test_a_job_from_a_mounted_repository_completes_in_the_stack(tier: Tier) -> None:
    with tier.phase("one job"):
        [job] = _wait_jobs(tier, [_submit(tier)])
    assert job["status"] == "completed", job
    assert job["steps"]
    assert all(step["status"] == "completed" for step in job["steps"])


def test_the_health_view_answers_health_metrics_and_the_dashboard(tier: Tier) -> None:
    code, kind, body = _get(tier.url("bridge", "/health"))
    assert code == 200, body
    assert json.loads(body)["status"] == "ok"
    # Text for a Prometheus scraper, which names its formats; JSON for curl's */*.
    scraper = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3"
    code, kind, body = _get(tier.url("bridge", "/metrics"), accept=scraper)
    assert code == 200
    assert kind.startswith("text/plain")
    assert "# TYPE" in body
    for accept in ("*/*", "application/json"):
        code, kind, body = _get(tier.url("bridge", "/metrics"), accept=accept)
        assert code == 200
        assert kind.startswith("application/json")
        assert json.loads(body)
    code, kind, body = _get(tier.url("bridge", "/"))
    assert code == 200
    assert kind.startswith("text/html")


def test_flower_asks_for_its_credentials(tier: Tier) -> None:
    assert _get(tier.url("flower", "/api/workers"))[0] == 401
    assert _get(tier.url("flower", "/api/workers"), "operator:wrong")[0] == 401
    auth = tier.secrets["FLOWER_BASIC_AUTH"]
    assert _get(tier.url("flower", "/api/workers"), auth)[0] == 200
    deadline = time.monotonic() + 30
    while True:  # Flower learns of a worker from its heartbeat events
        code, _, body = _get(tier.url("flower", "/api/workers?status=1"), auth)
        assert code == 200
        if True in json.loads(body).values() or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert True in json.loads(body).values(), f"Flower sees no live worker: {body}"


def test_two_workers_share_the_jobs(tier: Tier) -> None:
    with tier.phase("scale to two workers"):
        tier.stack.compose("up", "--detach", "--scale", "worker=2")
        workers = tier.stack.containers("worker")
        assert len(workers) == 2
        tier.stack.wait_healthy(workers, 120)
    hostnames = {
        podman.run(
            ["podman", "inspect", "--format", "{{.Config.Hostname}}", name], timeout_s=60
        ).stdout.strip()
        for name in workers
    }
    ran_on: set[str] = set()
    with tier.phase("jobs on two workers"):
        for _ in range(3):  # which worker takes a step is the broker's choice
            jobs = _wait_jobs(tier, [_submit(tier) for _ in range(6)])
            assert [j["status"] for j in jobs] == ["completed"] * 6, jobs
            ran_on |= {s["worker"].split(":")[0] for j in jobs for s in j["steps"]}
            if ran_on == hostnames:
                break
    assert ran_on == hostnames


@pytest.mark.parametrize("tag", [WORKER_TAG, BRIDGE_TAG])
def test_each_image_runs_as_a_user_that_is_not_root(tier: Tier, tag: str) -> None:
    config = podman.image_inspect(tag)["Config"]
    assert isinstance(config, dict)
    assert config["User"] == f"{IMAGE_UID}:{IMAGE_UID}"
    out = podman.run(["podman", "run", "--rm", "--entrypoint", "id", tag, "-u"], timeout_s=120)
    assert out.stdout.strip() == str(IMAGE_UID)


def test_the_worker_image_answers_claude_version_at_the_pinned_version(tier: Tier) -> None:
    [claude_stage] = [
        s for s in compose.stages(REPO_ROOT / "Dockerfile.worker") if s.name == "claude"
    ]
    pinned = dict(p for ins in claude_stage.all("ARG") for p in compose.env_pairs(ins))
    out = podman.run(
        ["podman", "run", "--rm", "--entrypoint", "claude", WORKER_TAG, "--version"],
        timeout_s=120,
    )
    assert out.stdout.split()[0] == pinned["CLAUDE_CODE_VERSION"], out.stdout


@pytest.mark.parametrize("tag", [WORKER_TAG, BRIDGE_TAG])
def test_no_layer_of_an_image_holds_a_credential(tier: Tier, tag: str) -> None:
    history = podman.run(
        ["podman", "history", "--no-trunc", "--format", "{{.CreatedBy}}", tag], timeout_s=60
    ).stdout
    assert history.strip()
    for name, value in tier.secrets.items():
        assert value not in history, f"{name} is in the build history of {tag}"
    root = podman.run(["podman", "image", "mount", tag], timeout_s=60).stdout.strip()
    try:
        patterns = [arg for value in tier.secrets.values() for arg in ("-e", value)]
        scan = subprocess.run(
            ["grep", "-r", "-l", "-a", "-F", *patterns, root],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert scan.returncode == 1, f"credentials in {tag}: {scan.stdout[:2000]}{scan.stderr}"
    finally:
        podman.run(["podman", "image", "unmount", tag], timeout_s=60, check=False)


# Run inside the worker container: the sandbox the engine wraps the CLI in, around
# plain tools, and what each sees of /proc.
_SANDBOX_PROBE = """
import json, os, subprocess, tempfile
from pathlib import Path
from analysis.claude.sandbox import PROC_MASKED_FILES, resolve_bin, wrap

def inside(*argv):
    # As the engine runs the CLI: an environment of its own, none of the worker's.
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        cmd = wrap([resolve_bin(argv[0]), *argv[1:]], bwrap="bwrap", checkout=root, home=root)
        env = {"LANG": "C.UTF-8"}
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)

present = [p for p in PROC_MASKED_FILES if os.path.exists(p)]
pids = [p for p in inside("ls", "/proc").stdout.split() if p.isdigit()]
seen = [f"/proc/{n}/{part}" for n in ("1", "2", "3") for part in ("cmdline", "environ")]
print(json.dumps({
    "pids_inside": pids,
    "processes_inside": inside("cat", *seen).stdout.replace("\\0", " "),
    "worker_pid1_outside": open("/proc/1/cmdline").read().replace("\\0", " "),
    "masked_read_inside": {p: inside("cat", p).stdout[:40] for p in present},
    "masked_readable_by_worker": [p for p in present if os.access(p, os.R_OK)],
}))
"""
_RUNNER_PROBE = (
    "from analysis.claude.settings import load_claude_settings;"
    "from analysis.claude.runner import ClaudeRunner;"
    "r = ClaudeRunner(load_claude_settings()); r.start(); print(r.sandboxed)"
)


def test_the_worker_runs_the_claude_cli_inside_bubblewrap_under_podman(tier: Tier) -> None:
    """The podman override unmasks /proc for the worker: the engine's own start-up probe
    (`claude --version` inside bubblewrap, CLAUDE_SANDBOX=bwrap) succeeds, and inside the
    sandbox there is no worker process and none of the entries the runtime masked."""
    worker = tier.stack.containers("worker")[0]  # one of them, after the scaling above
    assert tier.stack.exec(worker, "python", "-c", _RUNNER_PROBE).strip().splitlines()[-1] == "True"
    seen = json.loads(tier.stack.exec(worker, "python", "-c", _SANDBOX_PROBE))
    print(f"\nsandbox in the worker container: {seen}", file=sys.__stderr__)
    assert 1 <= len(seen["pids_inside"]) <= 3, seen
    # Outside, pid 1 is tini and the worker runs under it; inside, only bubblewrap and
    # the tool: no worker process, so no environment holding the worker's secrets.
    assert "tini" in seen["worker_pid1_outside"]
    assert "bwrap" in seen["processes_inside"]
    assert "tini" not in seen["processes_inside"]
    assert "fondation" not in seen["processes_inside"]
    for name, value in tier.secrets.items():
        assert value not in seen["processes_inside"], name
    assert all(text == "" for text in seen["masked_read_inside"].values()), seen


def test_without_the_unmask_option_bubblewrap_cannot_mount_proc_in_the_worker_image(
    tier: Tier,
) -> None:
    """Why the override carries unmask=/proc/*: with podman's default masks the kernel
    refuses bubblewrap's /proc, and with the option it mounts it."""
    argv = ["--unshare-all", "--share-net", "--proc", "/proc", "--dev", "/dev",
            "--ro-bind", "/", "/", "true"]  # fmt: skip
    base = ["podman", "run", "--rm", "--entrypoint", "bwrap"]
    masked = podman.run([*base, WORKER_TAG, *argv], timeout_s=120, check=False)
    assert masked.returncode != 0
    assert "Can't mount proc" in masked.stderr, masked.stderr
    unmasked = podman.run(
        [*base, "--security-opt", "unmask=/proc/*", WORKER_TAG, *argv], timeout_s=120, check=False
    )
    assert unmasked.returncode == 0, unmasked.stderr


def test_stopping_the_stack_leaves_nothing_behind(tier: Tier) -> None:
    with tier.phase("stack down"):
        tier.stack.down()
    assert tier.stack.leftovers() == {}
    volumes = podman.run(["podman", "volume", "ls", "--format", "{{.Name}}"], timeout_s=60).stdout
    assert [v for v in volumes.split() if v.startswith(f"{PROJECT}_")] == []
