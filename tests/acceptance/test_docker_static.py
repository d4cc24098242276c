"""The Dockerfiles, .dockerignore and compose/docker-compose.yml, checked without a Docker
engine: the compose file against the Compose Specification's schema, the Dockerfiles
through Docker's own parser, and every command they name against the real CLI."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import click
import dockerfile
import pytest
import yaml
from pydantic import AliasChoices

from analysis.claude.settings import ClaudeSettings
from cli.main import STATE_DIR, cli
from fondation.settings import Settings, describe_settings, load_settings
from testbed.services import REPO_ROOT
from tests.support import compose

pytestmark = pytest.mark.acceptance

DOCKERFILES = ["Dockerfile.worker", "Dockerfile.bridge"]
# The module each service command loads, for what its image must provide.
COMMAND_MODULES = {"bridge": "bridge.service", "worker": "tasks.worker.process"}
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.I)
SECRET_LITERAL = re.compile(r"sk-ant-|ghp_|github_pat_|glpat-|xox[bp]-")
PINNED_IMAGE = re.compile(r"^[\w./-]+:(?P<tag>[\w.-]+)(@sha256:[0-9a-f]{64})?$")
PINNED_TAG = re.compile(r"\d+\.\d+\.\d+")
PINNED_DIGEST = re.compile(r"^[\w./-]+:[\w.-]*\d+\.\d+\.\d+[\w.-]*@sha256:[0-9a-f]{64}$")


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def _compose_raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(compose.COMPOSE_FILE.read_text())
    return data


def _example() -> dict[str, str]:
    return compose.read_env_file(compose.ENV_EXAMPLE)


def _services() -> dict[str, Any]:
    # An operator's compose/.env: the example with Flower's credentials filled in.
    variables = {**_example(), "FLOWER_BASIC_AUTH": "operator:example"}
    services: dict[str, Any] = compose.load_compose(variables)["services"]
    return services


def _claude_variables() -> set[str]:
    """The claude engine's variables (its own settings class, read when it is built)."""
    names = set()
    for name, info in ClaudeSettings.model_fields.items():
        alias = info.validation_alias
        names.add(alias.choices[0] if isinstance(alias, AliasChoices) else f"CLAUDE_{name}")
    return {str(n).upper() for n in names}


def _assert_runs_the_cli(argv: list[str], where: str) -> None:
    """``argv`` starts with the project's console script and names a real subcommand
    whose options parse."""
    scripts = _pyproject()["project"]["scripts"]
    assert argv[:1] == ["fondation"], f"{where}: {argv} does not run the fondation CLI"
    assert scripts.get("fondation") == "cli.main:main", scripts
    name, *args = argv[1:]
    assert name in cli.commands, f"{where}: no subcommand {name!r} in `fondation`"
    try:
        cli.commands[name].make_context(name, list(args))
    except click.ClickException as exc:
        pytest.fail(f"{where}: `fondation {name}` refuses {args}: {exc.format_message()}")


def _installs(stage: compose.Stage, package: str) -> bool:
    pattern = re.compile(rf"apt-get install[^&;|]*\s{re.escape(package)}(\s|$)")
    return any(pattern.search(" ".join(i.value)) for i in stage.all("RUN"))


# --- .dockerignore ------------------------------------------------------------------------


def _dockerignore() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignored(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in _dockerignore():
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern.lstrip("!").strip("/"))
        if any(regex.match(c) for c in candidates):
            excluded = not negate
    return excluded


@pytest.mark.parametrize(
    "path",
    [
        "compose/.env",
        ".env",
        ".venv/bin/python",
        ".git/config",
        "convex/node_modules/convex/package.json",
        ".fondation/fondation.db",
        ".mypy_cache/3.11/x.json",
        ".ruff_cache/CACHEDIR.TAG",
        ".pytest_cache/README.md",
        "fondation/__pycache__/cli.cpython-311.pyc",
    ],
)
def test_the_build_context_leaves_out_secrets_environments_and_caches(path: str) -> None:
    assert dockerignored(path)


def test_the_build_context_keeps_the_example_env_and_the_packages() -> None:
    assert not dockerignored("compose/.env.example")
    assert not dockerignored("pyproject.toml")
    assert not dockerignored("store/sqlite_schema.sql")


# --- Dockerfiles ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCKERFILES)
def test_each_image_is_multi_stage_on_version_pinned_bases(name: str) -> None:
    stages = compose.stages(REPO_ROOT / name)
    assert len(stages) >= 2
    seen: set[str] = set()
    for stage in stages:
        if stage.base not in seen:  # FROM an earlier stage needs no tag
            match = PINNED_IMAGE.match(stage.base)
            assert match, f"{name}: {stage.base} has no tag"
            assert match["tag"] != "latest"
            assert PINNED_TAG.search(match["tag"]), f"{name}: {stage.base} is not pinned"
        if stage.name:
            seen.add(stage.name)
    assert stages[-1].base.startswith("python:3.11."), stages[-1].base


@pytest.mark.parametrize("name", DOCKERFILES)
def test_each_base_image_is_pinned_by_digest_through_a_build_argument(name: str) -> None:
    path = REPO_ROOT / name
    defaults = compose.global_args(path)
    for ins in dockerfile.parse_file(str(path)):
        if ins.cmd == "FROM" and not ins.value[0].startswith("${"):
            # Only earlier stages may be named directly.
            assert ins.value[0] in {s.name for s in compose.stages(path)}, ins.value
    bases = {v for k, v in defaults.items() if k.endswith("_IMAGE")}
    assert bases, f"{name}: no base image argument"
    for base in bases:
        assert PINNED_DIGEST.match(base), f"{name}: {base} is not pinned by digest"


def test_the_redis_image_is_pinned_by_digest_unless_replaced() -> None:
    raw = compose.COMPOSE_FILE.read_text()
    default = re.search(r"image: \$\{REDIS_IMAGE:-([^}]+)\}", raw)
    assert default, "the redis image is not ${REDIS_IMAGE:-...}"
    assert PINNED_DIGEST.match(default[1]), default[1]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_each_image_installs_its_dependencies_from_the_hash_locked_file(name: str) -> None:
    builder = compose.stages(REPO_ROOT / name)[0]
    runs = " ".join(" ".join(ins.value) for ins in builder.all("RUN"))
    assert "--require-hashes" in runs
    assert "-r requirements.lock" in runs
    assert "pyproject.toml" not in runs  # no resolving of ranges at build time
    locked = (REPO_ROOT / "requirements.lock").read_text()
    for requirement in _pyproject()["project"]["dependencies"]:
        package = re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower()
        assert re.search(rf"^{re.escape(package)}==\S+ ", locked, re.M), package
    # Every pinned package carries its hashes (a block runs to the next unindented line).
    blocks = re.split(r"\n(?=[A-Za-z0-9])", locked.split("\n", 2)[2])
    unhashed = [b.split()[0] for b in blocks if "==" in b and "--hash=sha256:" not in b]
    assert not unhashed, unhashed


@pytest.mark.parametrize("name", DOCKERFILES)
def test_the_target_architecture_has_a_default_for_the_legacy_builder(name: str) -> None:
    builder = compose.stages(REPO_ROOT / name)[0]
    uses = [" ".join(i.value) for i in builder.all("RUN") if "TARGETARCH" in " ".join(i.value)]
    assert uses, f"{name}: TARGETARCH unused"
    for run in uses:
        # BuildKit sets it; the legacy builder leaves it empty.
        assert "${TARGETARCH:-" in run, run


@pytest.mark.parametrize("name", DOCKERFILES)
def test_each_image_runs_as_a_user_that_is_not_root(name: str) -> None:
    user = compose.image_config(REPO_ROOT / name).user
    assert user is not None, f"{name}: the final stage sets no USER"
    assert user.split(":")[0] not in {"root", "0"}
    assert user == "10001:10001"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_each_image_starts_under_tini_and_runs_a_real_subcommand(name: str) -> None:
    image = compose.image_config(REPO_ROOT / name)
    final = compose.stages(REPO_ROOT / name)[-1]
    assert image.entrypoint == ["tini", "--"]
    assert _installs(final, "tini"), f"{name}: tini is not installed in the final stage"
    for instruction in ("ENTRYPOINT", "CMD"):
        found = final.last(instruction)
        assert found is not None, f"{name}: no {instruction}"
        assert found.json, f"{name}: {instruction} not in exec form"
    _assert_runs_the_cli(image.cmd, f"{name} CMD")
    assert image.stopsignal == "SIGTERM"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_each_image_has_a_healthcheck_that_can_run(name: str) -> None:
    image = compose.image_config(REPO_ROOT / name)
    assert image.healthcheck, f"{name}: no HEALTHCHECK"
    if image.healthcheck[0] == "python":
        # The final stage is a python image: its interpreter is on PATH.
        assert compose.stages(REPO_ROOT / name)[-1].base.startswith("python:")
        compile(image.healthcheck[2], "<healthcheck>", "exec")
    else:
        _assert_runs_the_cli(image.healthcheck, f"{name} HEALTHCHECK")


def test_the_worker_image_is_healthy_while_its_worker_beats_in_redis() -> None:
    assert compose.image_config(REPO_ROOT / "Dockerfile.worker").healthcheck == [
        "fondation",
        "worker-health",
    ]


def test_the_bridge_image_checks_the_health_view_on_its_exposed_port() -> None:
    final = compose.stages(REPO_ROOT / "Dockerfile.bridge")[-1]
    image = compose.image_config(REPO_ROOT / "Dockerfile.bridge")
    default_port = Settings.model_fields["health_port"].default
    assert [i.value[0] for i in final.all("EXPOSE")] == [str(default_port)]
    assert f"'{default_port}'" in image.healthcheck[2]
    assert "/health'" in image.healthcheck[2]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_copy_source_is_in_the_build_context(name: str) -> None:
    stage_names: list[str] = []
    # A symlink left out of the context is fine when a COPY puts the file itself there.
    replaced = {
        ins.value[-1].removeprefix("./")
        for stage in compose.stages(REPO_ROOT / name)
        for ins in stage.all("COPY")
        if len(ins.value) == 2 and not (REPO_ROOT / ins.value[0]).is_dir()
    }
    for stage in compose.stages(REPO_ROOT / name):
        for ins in stage.all("COPY") + stage.all("ADD"):
            assert ins.cmd == "COPY", f"{name}: use COPY, not ADD ({ins.original})"
            sources = list(ins.value[:-1])
            source_stage = next((f[7:] for f in ins.flags if f.startswith("--from=")), None)
            if source_stage is not None:
                assert source_stage in stage_names, f"{name}: no stage {source_stage}"
                continue
            for source in sources:
                path = REPO_ROOT / source
                assert path.exists(), f"{name}: COPY {source}: not in the repository"
                assert not dockerignored(source), f"{name}: COPY {source} is .dockerignored"
                assert not re.search(r"(^|/)\.env$", source)
                files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
                for f in files:
                    rel = f.relative_to(REPO_ROOT).as_posix()
                    if "__pycache__" not in rel and rel not in replaced:
                        assert not dockerignored(rel), f"{name}: {rel} is left out of the build"
        if stage.name:
            stage_names.append(stage.name)


@pytest.mark.parametrize("name", DOCKERFILES)
def test_the_builder_copies_every_package_the_project_installs(name: str) -> None:
    builder = compose.stages(REPO_ROOT / name)[0]
    copied = {ins.value[0].strip("/") for ins in builder.all("COPY")}
    include = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    assert packages <= copied, f"{name}: the builder misses {packages - copied}"
    assert "pyproject.toml" in copied


@pytest.mark.parametrize("name", DOCKERFILES)
def test_no_image_carries_a_secret_in_env_or_build_args(name: str) -> None:
    """A build argument's value is kept in the image history, so a secret-named ARG is
    refused even without a default; ENV is in every layer that follows."""
    for stage in compose.stages(REPO_ROOT / name):
        for ins in stage.all("ENV") + stage.all("ARG"):
            for var, value in compose.env_pairs(ins):
                assert not SECRET_NAME.search(var), f"{name}: {ins.cmd} {var}"
                assert not SECRET_LITERAL.search(value)
        for ins in stage.instructions:
            assert not SECRET_LITERAL.search(ins.original), ins.original


@pytest.mark.parametrize("name", DOCKERFILES)
def test_an_image_whose_command_loads_gitpython_installs_git(name: str) -> None:
    """GitPython refuses to import without a git executable."""
    command = compose.image_config(REPO_ROOT / name).cmd[1]
    probe = f"import sys, {COMMAND_MODULES[command]}; print('git' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    if out.strip() == "True":
        assert _installs(compose.stages(REPO_ROOT / name)[-1], "git")


def test_the_worker_image_pins_the_claude_cli_and_ships_only_its_binary() -> None:
    stages = compose.stages(REPO_ROOT / "Dockerfile.worker")
    claude = next(s for s in stages if s.name == "claude")
    args = dict(pair for i in claude.all("ARG") for pair in compose.env_pairs(i))
    version = args["CLAUDE_CODE_VERSION"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    installs = " ".join(" ".join(i.value) for i in claude.all("RUN"))
    assert '"@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}"' in installs
    final_copies = [i for i in stages[-1].all("COPY") if "--from=claude" in i.flags]
    assert [i.value[-1] for i in final_copies] == ["/usr/local/bin/claude"]


def test_the_worker_image_keeps_checkouts_on_a_volume_its_user_owns() -> None:
    final = compose.stages(REPO_ROOT / "Dockerfile.worker")[-1]
    temp_dir = compose.image_config(REPO_ROOT / "Dockerfile.worker").env["TEMP_DIR"]
    assert any(temp_dir in v for i in final.all("VOLUME") for v in i.value)
    owned = [i for i in final.all("RUN") if "-o 10001" in i.value[0] and temp_dir in i.value[0]]
    assert owned, f"{temp_dir} is not created for uid 10001"


# --- compose ----------------------------------------------------------------------------------


def test_the_compose_file_follows_the_compose_specification() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    out = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(compose.COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_service_has_a_healthcheck() -> None:
    for name, svc in _services().items():
        test = svc.get("healthcheck", {}).get("test")
        assert test, f"{name}: no healthcheck"
        assert test[0] in {"CMD", "CMD-SHELL"}, f"{name}: healthcheck {test}"


def test_services_built_here_check_health_as_their_image_does() -> None:
    for name, svc in _services().items():
        if "build" not in svc or "command" in svc:
            continue
        image = compose.image_config(compose.service_dockerfile(svc))
        assert compose.healthcheck_argv(svc["healthcheck"]["test"]) == image.healthcheck, name


def test_services_with_a_command_run_a_real_subcommand() -> None:
    for name, svc in _services().items():
        if "build" in svc and "command" in svc:
            _assert_runs_the_cli(svc["command"], f"compose service {name}")
        if "build" in svc:
            assert compose.service_dockerfile(svc).exists()


def test_every_dependency_waits_for_a_healthy_service() -> None:
    for name, svc in _services().items():
        depends = svc.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for other, spec in depends.items():
            assert spec == {"condition": "service_healthy"}, f"{name} -> {other}: {spec}"


def test_no_service_waits_for_the_bridge_to_be_healthy() -> None:
    """The bridge's /health fails while no worker consumes the queue: a worker waiting for
    a healthy bridge would never start."""
    for name, svc in _services().items():
        assert "bridge" not in svc.get("depends_on", {}), name


def test_the_worker_scales_and_stops_within_its_grace_period() -> None:
    worker = _services()["worker"]
    assert "container_name" not in worker
    assert "hostname" not in worker
    assert "ports" not in worker
    soft_s = float(
        _example().get(
            "WORKER_SOFT_SHUTDOWN_TIMEOUT",
            Settings.model_fields["worker_soft_shutdown_timeout_s"].default,
        )
    )
    # The soft shutdown, then the cold one cancels and requeues what still runs.
    assert compose.duration_s(worker["stop_grace_period"]) >= soft_s + 10
    # Without the remap, Celery's warm shutdown on SIGTERM waits for steps without bound.
    assert compose.image_config(compose.service_dockerfile(worker)).env["REMAP_SIGTERM"] == (
        "SIGQUIT"
    )


def test_the_sqlite_store_is_one_file_on_a_volume_the_bridge_and_workers_share() -> None:
    services = _services()
    paths = {services[n]["environment"]["SQLITE_PATH"] for n in ("bridge", "worker")}
    assert len(paths) == 1
    folder = str(PurePosixPath(paths.pop()).parent)
    for name in ("bridge", "worker"):
        mounts = [str(m).split(":") for m in services[name]["volumes"]]
        assert ["store", folder] in [m[:2] for m in mounts], f"{name}: {mounts}"
    assert "store" in _compose_raw()["volumes"]


def test_worker_checkouts_go_to_a_tmpfs_at_temp_dir() -> None:
    worker = _services()["worker"]
    temp_dir = worker["environment"]["TEMP_DIR"]
    image = compose.image_config(compose.service_dockerfile(worker))
    assert temp_dir == image.env["TEMP_DIR"]
    targets = [str(t).split(":")[0] for t in worker["tmpfs"]]
    assert temp_dir in targets
    assert any("uid=10001" in str(t) and "size=" in str(t) for t in worker["tmpfs"])


class _OverrideLoader(yaml.SafeLoader):
    """Reads Compose's ``!override`` tag as the value it carries."""


_OverrideLoader.add_constructor(
    "!override",
    lambda loader, node: loader.construct_sequence(node),  # type: ignore[arg-type]
)


def test_the_podman_override_changes_only_image_names_the_tmpfs_form_and_the_sandbox() -> None:
    override_file = compose.COMPOSE_DIR / "docker-compose.podman.yml"
    override = yaml.load(override_file.read_text(), Loader=_OverrideLoader)
    production = _services()
    assert set(override) == {"services"}
    for name, svc in override["services"].items():
        assert name in production
        sandbox = {"security_opt", "environment"} if name == "worker" else set()
        assert set(svc) <= {"image", "tmpfs", *sandbox}, f"{name}: {set(svc)}"
    # The worker's sandbox: /proc unmasked, added to the production file's options
    # (podman-compose appends lists), and a sandbox that cannot start stops the worker
    # (docs/CLAUDE.md).
    worker = override["services"]["worker"]
    assert worker["security_opt"] == ["unmask=/proc/*"]
    assert "no-new-privileges:true" in production["worker"]["security_opt"]
    assert worker["environment"] == {"CLAUDE_SANDBOX": "bwrap"}
    built = {name for name, svc in production.items() if "build" in svc}
    assert set(override["services"]) == built  # each built service gets its image name
    [docker_form] = production["worker"]["tmpfs"]
    [podman_form] = override["services"]["worker"]["tmpfs"]
    target, _, options = docker_form.partition(":")
    podman_target, _, podman_options = podman_form.partition(":")
    assert podman_target == target
    docker_opts = dict(o.partition("=")[::2] for o in options.split(","))
    podman_opts = dict(o.partition("=")[::2] for o in podman_options.split(","))
    # The same size and mode; U for uid/gid, which podman refuses.
    assert podman_opts.pop("U") == ""
    assert podman_opts == {k: v for k, v in docker_opts.items() if k not in {"uid", "gid"}}
    assert {docker_opts["uid"], docker_opts["gid"]} == {"10001"}


def test_redis_keeps_its_data_and_never_evicts_queued_messages() -> None:
    redis_svc = _services()["redis"]
    match = PINNED_IMAGE.match(redis_svc["image"])
    assert match, redis_svc["image"]
    assert redis_svc["image"].startswith("redis:7.")
    assert PINNED_TAG.search(match["tag"])
    command = " ".join(redis_svc["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(str(v).endswith(":/data") for v in redis_svc["volumes"])
    assert "redis-cli ping" in " ".join(redis_svc["healthcheck"]["test"])


def test_flower_requires_basic_auth_and_keeps_its_state_on_a_volume() -> None:
    with pytest.raises(compose.InterpolationError, match="FLOWER_BASIC_AUTH"):
        compose.load_compose({**_example(), "FLOWER_BASIC_AUTH": ""})
    flower = _services()["flower"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == "operator:example"
    workdir = compose.image_config(compose.service_dockerfile(flower)).workdir
    state_dir = str(PurePosixPath(workdir) / STATE_DIR)
    mounts = [str(m).split(":") for m in flower["volumes"]]
    assert any(m[1] == state_dir and m[0] in _compose_raw()["volumes"] for m in mounts)
    assert "env_file" not in flower  # Flower needs none of the job secrets


def test_the_compose_file_holds_no_secret_values() -> None:
    raw = _compose_raw()
    assert not SECRET_LITERAL.search(compose.COMPOSE_FILE.read_text())
    for name, svc in raw["services"].items():
        for var, value in compose.service_environment(svc).items():
            if SECRET_NAME.search(var):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}", value), (
                    f"{name}: {var} must come from compose/.env, not the compose file"
                )
        for env_file in compose.as_list(svc.get("env_file")):
            assert env_file == ".env", f"{name}: env_file {env_file}"


def test_the_example_env_documents_every_variable() -> None:
    listed = compose.listed_variables(compose.ENV_EXAMPLE)
    settings = {name for name, _, _ in describe_settings()}
    referenced = compose.referenced_variables(_compose_raw())
    missing = (settings | referenced | _claude_variables()) - listed
    assert not missing, f"compose/.env.example does not list {sorted(missing)}"


def test_the_example_env_sets_each_variable_once() -> None:
    names = [
        m.group(1)
        for line in compose.ENV_EXAMPLE.read_text().splitlines()
        if (m := re.match(r"^#? ?([A-Z][A-Z0-9_]*)=", line))
    ]
    twice = sorted({n for n in names if names.count(n) > 1})
    assert not twice, f"compose/.env.example lists {twice} more than once"


def test_published_ports_come_from_variables_with_the_usual_defaults() -> None:
    raw = _compose_raw()["services"]
    assert raw["bridge"]["ports"] == ["127.0.0.1:${HEALTH_HOST_PORT:-8080}:8080"]
    assert raw["flower"]["ports"] == ["127.0.0.1:${FLOWER_HOST_PORT:-5555}:5555"]
    variables = {**_example(), "FLOWER_BASIC_AUTH": "operator:example"}
    moved = compose.load_compose({**variables, "HEALTH_HOST_PORT": "18080"})
    assert moved["services"]["bridge"]["ports"] == ["127.0.0.1:18080:8080"]


def test_the_example_env_holds_no_secret_and_valid_settings() -> None:
    example = _example()
    for var, value in example.items():
        if SECRET_NAME.search(var):
            assert value == "", f"{var} has a value in .env.example"
    for line in compose.ENV_EXAMPLE.read_text().splitlines():
        if not line.startswith("#"):  # Compose would read a trailing " # ..." as a comment
            assert " #" not in line, line
    fields = {name.upper(): name for name in Settings.model_fields}
    values = {fields[k]: v for k, v in example.items() if k in fields}
    load_settings(**values)  # the example's values pass the settings' own checks


def test_the_stacks_workers_run_the_claude_engine_unless_compose_env_chooses_another() -> None:
    def engine(variables: dict[str, str]) -> str:
        resolved = compose.load_compose({**variables, "FLOWER_BASIC_AUTH": "operator:example"})
        return compose.service_environment(resolved["services"]["worker"])["ANALYSIS_ENGINE"]

    example = _example()
    assert example["ANALYSIS_ENGINE"] == "claude"
    assert engine(example) == "claude"
    # An operator's .env written before the engine was listed, or with the line removed.
    assert engine({k: v for k, v in example.items() if k != "ANALYSIS_ENGINE"}) == "claude"
    assert engine({**example, "ANALYSIS_ENGINE": "offline"}) == "offline"
    # The image alone, run outside this compose file, is the production worker too.
    assert compose.image_config(REPO_ROOT / "Dockerfile.worker").env["ANALYSIS_ENGINE"] == "claude"


def test_make_demo_chooses_the_offline_engine_explicitly() -> None:
    demo = (REPO_ROOT / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "ANALYSIS_ENGINE=offline $(BIN)/fondation analyze" in demo
