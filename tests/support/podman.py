"""The container tier's tools: podman and podman-compose on a machine without a Docker
engine, the local stand-in base images, image builds from the Dockerfiles as they are, and
a compose project of compose/docker-compose.yml with the podman override.

The recipe is the one compose/README.md gives an operator ("With podman"). What differs
from Docker is passed from outside the production files: the podman settings file
(compose/podman/containers.conf), the base images' local tags as build arguments, the
machine's package-registry settings and CA bundle mounted into the builds, and
compose/docker-compose.podman.yml.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from testbed.services import REPO_ROOT
from tests.support import compose

PODMAN_DIR = REPO_ROOT / "compose" / "podman"
CONTAINERS_CONF = PODMAN_DIR / "containers.conf"
PODMAN_OVERRIDE = compose.COMPOSE_DIR / "docker-compose.podman.yml"
PODMAN_COMPOSE_VERSION = "1.6.0"
APT_PACKAGES = ["podman", "runc", "fuse-overlayfs", "slirp4netns", "uidmap", "mmdebstrap"]
# The machine's registry settings and CA bundle, where they exist, and where the base
# images' pip and npm read them (npm's global config is under its /usr/local prefix).
BUILD_MOUNTS = {
    "/etc/pip.conf": "/etc/pip.conf",
    "/etc/npmrc": "/usr/local/etc/npmrc",
    "/etc/ssl/certs/ca-certificates.crt": "/etc/ssl/certs/ca-certificates.crt",
}


class ToolMissing(RuntimeError):
    """podman cannot be had here (not root, no package manager): the tier cannot run."""


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def run(
    argv: Sequence[str],
    *,
    timeout_s: float,
    log: Path | None = None,
    check: bool = True,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command with the podman settings; its output goes to ``log`` when given
    (appended), else it is returned. A failure shows the end of the output."""
    out = subprocess.run(
        list(argv), cwd=cwd, env={**podman_env(), **(env or {})}, capture_output=True,
        text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    if log is not None:
        with log.open("a") as fh:
            fh.write(f"$ {' '.join(argv)}\n{out.stdout}{out.stderr}\n")
    if check and out.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {out.returncode}:\n{(out.stdout + out.stderr)[-4000:]}"
        )
    return out


def podman_compose_bin() -> Path:
    return Path(sys.executable).parent / "podman-compose"


def ensure_tools(log: Path) -> None:
    """podman from the system's packages and podman-compose from PyPI into this venv,
    each installed only when missing. Debian's podman-compose (1.0) ignores --scale and
    breaks exec-form healthchecks: the pinned release is needed."""
    if shutil.which("podman") is None or shutil.which("mmdebstrap") is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise ToolMissing("podman is not installed and cannot be (needs root and apt-get)")
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-qq"], timeout_s=300, log=log, env=env)
        run(["apt-get", "install", "-y", "-qq", *APT_PACKAGES], timeout_s=600, log=log, env=env)
    tool = podman_compose_bin()
    version = run([str(tool), "--version"], timeout_s=30, check=False) if tool.exists() else None
    if version is None or f"version {PODMAN_COMPOSE_VERSION}" not in version.stdout:
        run(
            [sys.executable, "-m", "pip", "install", "--quiet",
             f"podman-compose=={PODMAN_COMPOSE_VERSION}"],
            timeout_s=300, log=log,
        )  # fmt: skip


def make_base_images(log: Path) -> None:
    """The stand-ins for the registry's base images (kept when present under their tag)."""
    run([str(PODMAN_DIR / "base-images.sh")], timeout_s=900, log=log)


def local_tag(pinned: str) -> str:
    """The local stand-in of a pinned base image: its name and tag, without the digest."""
    return pinned.split("@", 1)[0]


def build_image(dockerfile: Path, tag: str, context: Path, log: Path) -> None:
    """``podman build`` of a Dockerfile as it is. Each base-image argument (``*_IMAGE``,
    pinned by digest) is given its local stand-in, which has no such digest."""
    args: list[str] = []
    for name, value in compose.global_args(dockerfile).items():
        if name.endswith("_IMAGE"):
            args += ["--build-arg", f"{name}={local_tag(value)}"]
    for host, target in BUILD_MOUNTS.items():
        if Path(host).exists():
            args += ["--volume", f"{host}:{target}:ro"]
    run(
        ["podman", "build", "--pull=never", "--network", "host", "--format", "docker",
         "--file", str(dockerfile), "--tag", tag, *args, str(context)],
        timeout_s=1800, log=log,
    )  # fmt: skip


def image_inspect(tag: str) -> dict[str, object]:
    data: list[dict[str, object]] = json.loads(
        run(["podman", "image", "inspect", tag], timeout_s=60).stdout
    )
    return data[0]


def build_context(dest: Path, planted: Mapping[str, str]) -> Path:
    """A copy of the repository's tracked files, plus ``planted`` files (path: content)
    such as an operator's compose/.env: what a build sees on a working machine."""
    listed = run(["git", "ls-files", "-z"], timeout_s=60, cwd=REPO_ROOT).stdout
    for rel in filter(None, listed.split("\0")):
        source = REPO_ROOT / rel
        if source.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for rel, content in planted.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(content)
    return dest


@dataclass
class Project:
    """compose/docker-compose.yml and the podman override, copied to a folder of the tier
    with the tier's .env (the file's env_file is compose/.env, which is the operator's),
    and any extra override files."""

    name: str
    folder: Path
    env_file: str
    variables: dict[str, str]
    extra: dict[str, str] = field(default_factory=dict)
    log: Path | None = None

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(compose.COMPOSE_FILE, self.folder / compose.COMPOSE_FILE.name)
        shutil.copy2(PODMAN_OVERRIDE, self.folder / PODMAN_OVERRIDE.name)
        (self.folder / ".env").write_text(self.env_file)
        for name, content in self.extra.items():
            (self.folder / name).write_text(content)

    def compose(self, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        files = [compose.COMPOSE_FILE.name, PODMAN_OVERRIDE.name, *self.extra]
        argv = [str(podman_compose_bin()), "--project-name", self.name]
        for name in files:
            argv += ["--file", name]
        return run(
            [*argv, *args], timeout_s=timeout_s, log=self.log, cwd=self.folder,
            env=self.variables,
        )  # fmt: skip

    def containers(self, service: str | None = None) -> list[str]:
        """Names of this project's containers (of one service when given), running or not."""
        filters = ["--filter", f"label=io.podman.compose.project={self.name}"]
        if service is not None:
            filters += ["--filter", f"label=com.docker.compose.service={service}"]
        argv = ["podman", "ps", "--all", *filters, "--format", "{{.Names}}"]
        return run(argv, timeout_s=60).stdout.split()

    def down(self, grace_s: float = 60) -> None:
        """Stop and remove everything of the project, replicas added by --scale and the
        named volumes included.

        podman-compose 1.6's down knows only the replicas the compose file declares: it
        cannot remove Redis while a replica added by --scale still depends on it, and it
        stops such replicas last, after Redis, with podman's 10 s default. So the workers
        are stopped first, with their grace period while Redis still answers, and
        removed; compose/README.md tells operators the same."""
        workers = self.containers("worker")
        if workers:
            run(["podman", "stop", "--time", str(int(grace_s)), *workers], timeout_s=grace_s + 60)
            run(["podman", "rm", *workers], timeout_s=60)
        self.compose("down", "--volumes", "--remove-orphans")

    def leftovers(self) -> dict[str, list[str]]:
        """What of this project podman still holds: containers, pods, networks."""
        found = {"containers": self.containers()}
        pods = run(["podman", "pod", "ls", "--format", "{{.Name}}"], timeout_s=60).stdout
        found["pods"] = [p for p in pods.split() if p.startswith(f"pod_{self.name}")]
        networks = run(["podman", "network", "ls", "--format", "{{.Name}}"], timeout_s=60).stdout
        found["networks"] = [n for n in networks.split() if n.startswith(f"{self.name}_")]
        return {kind: names for kind, names in found.items() if names}

    def exec(self, container: str, *argv: str, timeout_s: float = 60) -> str:
        return run(["podman", "exec", container, *argv], timeout_s=timeout_s).stdout

    def healthy(self, container: str) -> bool:
        """Runs the container's HEALTHCHECK once: without systemd podman never runs it
        by itself."""
        out = run(["podman", "healthcheck", "run", container], timeout_s=60, check=False)
        return out.returncode == 0

    def wait_healthy(self, containers: Sequence[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(containers)
        while pending:
            pending = [c for c in pending if not self.healthy(c)]
            if pending and time.monotonic() > deadline:
                raise AssertionError(f"not healthy after {timeout_s} s: {pending}")
            if pending:
                time.sleep(1)


def compose_image_default(service: str) -> str:
    """The image compose/docker-compose.yml gives ``service`` when no variable is set."""
    # FLOWER_BASIC_AUTH only because the file refuses to load without it.
    services = compose.load_compose({"FLOWER_BASIC_AUTH": "-"})["services"]
    image: str = services[service]["image"]
    return image
