"""Read compose/docker-compose.yml and the Dockerfiles it builds, and run a service as a
local process the way its container would run it.

There is no Docker engine on these machines, so the compose smoke test translates each
service instead: the command is the service's ``command`` or else the image's CMD; the
environment is the image's ENV, then ``env_file``, then ``environment`` (Docker's order);
container paths move under a folder of the test (named volumes become folders shared by
the services that mount them); published ports move to free ones; the redis service
becomes the test's Redis. Everything else is taken as written, so the test fails when the
compose file or a Dockerfile is wrong.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import dockerfile
import yaml

from fondation.embedded_redis import free_port
from testbed.services import REPO_ROOT, Service

COMPOSE_DIR = REPO_ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
BIN_DIR = Path(sys.executable).parent

# --- Dockerfiles --------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: tuple[dockerfile.Command, ...]

    def all(self, cmd: str) -> list[dockerfile.Command]:
        return [i for i in self.instructions if i.cmd == cmd]

    def last(self, cmd: str) -> dockerfile.Command | None:
        found = self.all(cmd)
        return found[-1] if found else None


def stages(path: Path) -> list[Stage]:
    """The build stages of a Dockerfile, in order. A base named by a global ARG
    (``FROM ${PYTHON_IMAGE}``) is read as that ARG's default; the global ARGs themselves
    are not kept in any stage."""
    result: list[Stage] = []
    defaults = global_args(path)
    for ins in dockerfile.parse_file(str(path)):
        if ins.cmd == "FROM":
            words = list(ins.value)
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            result.append(Stage(interpolate(words[0], defaults), name, ()))
        elif result:
            last = result[-1]
            result[-1] = Stage(last.base, last.name, (*last.instructions, ins))
    return result


def global_args(path: Path) -> dict[str, str]:
    """The ARGs before a Dockerfile's first FROM, with their defaults."""
    found: dict[str, str] = {}
    for ins in dockerfile.parse_file(str(path)):
        if ins.cmd == "FROM":
            break
        if ins.cmd == "ARG":
            found.update(env_pairs(ins))
    return found


def env_pairs(ins: dockerfile.Command) -> list[tuple[str, str]]:
    """(name, value) of an ENV or ARG instruction; ARG without a default has value ''."""
    words = list(ins.value)
    if ins.cmd == "ARG":
        return [(w.partition("=")[0], _unquote(w.partition("=")[2])) for w in words]
    return [(words[i], _unquote(words[i + 1])) for i in range(0, len(words) - 1, 2)]


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def exec_form(ins: dockerfile.Command | None) -> list[str]:
    """The argv of a CMD, ENTRYPOINT or HEALTHCHECK (without its leading CMD word)."""
    if ins is None:
        return []
    words = list(ins.value)
    if ins.cmd == "HEALTHCHECK":
        if words[0].upper() == "NONE":
            return []
        words = words[1:]
    return words if ins.json else ["/bin/sh", "-c", " ".join(words)]


@dataclass(frozen=True)
class ImageConfig:
    """What the final stage of a Dockerfile sets for the container it runs."""

    env: dict[str, str]
    workdir: str
    user: str | None
    entrypoint: list[str]
    cmd: list[str]
    healthcheck: list[str]
    stopsignal: str | None


def image_config(path: Path) -> ImageConfig:
    final = stages(path)[-1]
    env: dict[str, str] = {}
    for ins in final.all("ENV"):
        for name, value in env_pairs(ins):
            env[name] = value
    workdir = "/"
    for ins in final.all("WORKDIR"):
        workdir = str(PurePosixPath(workdir, ins.value[0]))
    user = final.last("USER")
    stop = final.last("STOPSIGNAL")
    return ImageConfig(
        env=env,
        workdir=workdir,
        user=user.value[0] if user else None,
        entrypoint=exec_form(final.last("ENTRYPOINT")),
        cmd=exec_form(final.last("CMD")),
        healthcheck=exec_form(final.last("HEALTHCHECK")),
        stopsignal=stop.value[0] if stop else None,
    )


# --- env files and interpolation ----------------------------------------------------------

_LISTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=")


def read_env_file(path: Path) -> dict[str, str]:
    """The variables an env file sets: ``NAME=value`` lines; comments and blanks skipped."""
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path.name}: not NAME=value: {line!r}")
        values[name.strip()] = _unquote(value.strip())
    return values


def listed_variables(path: Path) -> set[str]:
    """Every variable an env file documents, set (``NAME=``) or left unset (``# NAME=``)."""
    return {m.group(1) for line in path.read_text().splitlines() if (m := _LISTED.match(line))}


class InterpolationError(ValueError):
    """A ``${VAR:?message}`` whose variable is missing: Compose refuses the file."""


_REF = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.S)


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}; $$ is a literal $."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("bare"):
            return variables.get(match.group("bare"), "")
        braced = _BRACED.match(match.group("braced"))
        if braced is None:
            raise InterpolationError(f"invalid interpolation {match.group(0)!r}")
        name, op, arg = braced.group("name", "op", "arg")
        value = variables.get(name)
        missing = value is None or (op is not None and op.startswith(":") and value == "")
        if op in {"-", ":-"}:
            return interpolate(arg, variables) if missing else str(value)
        if op in {"?", ":?"}:
            if missing:
                raise InterpolationError(f"{name}: {arg}")
            return str(value)
        if op in {"+", ":+"}:
            return "" if missing else interpolate(arg, variables)
        return value or ""

    return _REF.sub(replace, text)


def referenced_variables(node: Any) -> set[str]:
    """The variables the strings of a parsed YAML tree interpolate."""
    if isinstance(node, dict):
        return set().union(*(referenced_variables(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(referenced_variables(v) for v in node))
    names = set()
    for match in _REF.finditer(node if isinstance(node, str) else ""):
        if match.group("bare"):
            names.add(match.group("bare"))
        elif match.group("braced") and (braced := _BRACED.match(match.group("braced"))):
            names.add(braced.group("name"))
    return names


def _interpolate_tree(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolate_tree(n, variables) for n in node]
    if isinstance(node, dict):
        return {k: _interpolate_tree(v, variables) for k, v in node.items()}
    return node


def load_compose(variables: Mapping[str, str], path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file with every ${VAR} resolved from ``variables`` (compose/.env)."""
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    resolved: dict[str, Any] = _interpolate_tree(data, variables)
    return resolved


def duration_s(text: str | int | float) -> float:
    """A Compose duration (``1m30s``, ``500ms``, ``60s``) in seconds."""
    if isinstance(text, int | float):
        return float(text)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


def service_environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.partition("=")[::2] for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def service_dockerfile(service: Mapping[str, Any], compose_dir: Path = COMPOSE_DIR) -> Path:
    build = service["build"]
    context = compose_dir / (build if isinstance(build, str) else build.get("context", "."))
    name = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    return (context / name).resolve()


def healthcheck_argv(test: list[str] | str) -> list[str]:
    if isinstance(test, str):
        return ["/bin/sh", "-c", test]
    if test[0] == "CMD":
        return list(test[1:])
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", test[1]]
    return []


# --- running a service as a local process ---------------------------------------------------


@dataclass
class LocalService(Service):
    """A service's process; ``cwd`` stands for the image's WORKDIR."""

    cwd: Path = REPO_ROOT
    healthcheck: list[str] = field(default_factory=list)
    stop_grace_s: float = 10.0

    def start(self) -> LocalService:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            # A session of its own, so a kill reaches the whole process group.
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        return self

    def check_health(self, timeout_s: float = 20) -> subprocess.CompletedProcess[str]:
        """Run the service's healthcheck command as Docker would, inside its environment."""
        return subprocess.run(
            self.healthcheck,
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )


# Service keys the translation honours or that do not change what the process does. Any
# other key (entrypoint, working_dir, user, ...) would be silently ignored: refuse it.
TRANSLATED_KEYS = {
    "build", "image", "command", "env_file", "environment", "volumes", "tmpfs", "ports",
    "depends_on", "healthcheck", "restart", "stop_grace_period", "security_opt", "cap_drop",
}  # fmt: skip


class LocalProject:
    """The services of the compose file, mapped onto this machine under ``root``."""

    def __init__(
        self, variables: Mapping[str, str], root: Path, redis_url: str, path: Path = COMPOSE_FILE
    ) -> None:
        self.variables = dict(variables)
        self.compose = load_compose(self.variables, path)
        self.compose_dir = path.parent
        self.root = root
        self.redis_url = redis_url
        self.services: dict[str, Any] = self.compose["services"]
        # Every published container port gets a free port of its own on loopback.
        self.ports: dict[str, int] = {}
        for svc in self.services.values():
            for spec in svc.get("ports", []):
                container_port = str(spec).rsplit(":", 1)[-1].split("/")[0]
                self.ports.setdefault(container_port, free_port())

    def local_path(self, service: str, container_path: str, replica: int = 1) -> Path:
        """Where a container path of a replica of ``service`` lives here: in the folder of
        the named volume mounted over it (shared), else in the replica's own root."""
        svc = self.services[service]
        for mount in svc.get("volumes", []):
            source, _, target = str(mount).partition(":")
            target = target.split(":")[0]
            rel = _relative_to(container_path, target)
            if rel is not None and not source.startswith((".", "/")):
                return self.root / "volumes" / source / rel
        return self.root / "fs" / f"{service}-{replica}" / container_path.lstrip("/")

    def service(
        self, name: str, *, replica: int = 1, overrides: Mapping[str, str] | None = None
    ) -> LocalService:
        """Replica ``replica`` of service ``name``; ``overrides`` beat the compose file."""
        svc = self.services[name]
        if unknown := set(svc) - TRANSLATED_KEYS:
            raise AssertionError(f"{name}: no local translation for {sorted(unknown)}")
        image = image_config(service_dockerfile(svc, self.compose_dir))
        if image.entrypoint[:1] != ["tini"]:
            raise AssertionError(f"{name}: only a tini entrypoint translates to a process")
        command = svc.get("command", image.cmd)
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        env = {k: v for k, v in image.env.items() if k != "PATH"}
        for env_file in as_list(svc.get("env_file")):
            # compose/.env is the operator's copy of .env.example: ``variables``.
            if Path(env_file).name != ".env":
                raise AssertionError(f"{name}: env_file {env_file} is not compose/.env")
            env.update(self.variables)
        env.update(service_environment(svc))
        env.update(overrides or {})
        env = {k: self._map_value(name, replica, v) for k, v in env.items()}
        env["PATH"] = f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
        self._prepare_fs(name, replica, image.workdir)
        cwd = self.local_path(name, image.workdir, replica)
        if "HOME" in env:
            Path(env["HOME"]).mkdir(parents=True, exist_ok=True)
        health = healthcheck_argv(svc.get("healthcheck", {}).get("test", [])) or image.healthcheck
        return LocalService(
            name=f"{name}-{replica}",
            argv=self._map_argv(argv),
            env=env,
            log_path=self.root / "logs" / f"{name}-{replica}.log",
            cwd=cwd,
            healthcheck=[self._map_ports(a) for a in self._map_argv(health)],
            stop_grace_s=duration_s(svc.get("stop_grace_period", "10s")),
        )

    def _prepare_fs(self, service: str, replica: int, workdir: str) -> None:
        """The replica's root: each named volume a link to the folder all replicas and
        services share, each tmpfs a folder of its own, and the working directory."""
        own = self.root / "fs" / f"{service}-{replica}"
        svc = self.services[service]
        for mount in svc.get("volumes", []):
            source, _, target = str(mount).partition(":")
            link = own / target.split(":")[0].lstrip("/")
            shared = self.root / "volumes" / source
            shared.mkdir(parents=True, exist_ok=True)
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(shared, target_is_directory=True)
        for spec in as_list(svc.get("tmpfs")):
            (own / str(spec).split(":")[0].lstrip("/")).mkdir(parents=True, exist_ok=True)
        (own / workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)

    def _map_value(self, service: str, replica: int, value: str) -> str:
        if value.startswith("/"):
            return str(self.local_path(service, value, replica))
        if value in self.ports:
            return str(self.ports[value])
        if value == "0.0.0.0":  # the container listens on every interface; a test does not
            return "127.0.0.1"
        if "://" in value and urlsplit(value).hostname in self.services:
            host = urlsplit(value).hostname
            if host != "redis":
                raise AssertionError(f"no local stand-in for the {host} service")
            return self.redis_url
        return value

    def _map_argv(self, argv: list[str]) -> list[str]:
        if not argv:
            return []
        found = shutil.which(argv[0], path=str(BIN_DIR)) if "/" not in argv[0] else None
        head = found or argv[0]
        return [head, *(str(self.ports[a]) if a in self.ports else a for a in argv[1:])]

    def _map_ports(self, text: str) -> str:
        for container_port, port in self.ports.items():
            text = text.replace(f"127.0.0.1:{container_port}/", f"127.0.0.1:{port}/")
        return text


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _relative_to(path: str, base: str) -> str | None:
    try:
        return str(PurePosixPath(path).relative_to(PurePosixPath(base)))
    except ValueError:
        return None
