"""The ``fondation`` command: the main job in one command, the stack, and the operator's
tools. Every setting is an environment variable; ``fondation settings`` lists them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bridge.store.base import JobStore
from bridge.store.open import open_store
from bridge.store.records import FINAL_STATUSES, JobRecord, StepRecord
from fondation.clock import now_ms
from fondation.errors import ConfigError, FondationError, JobNotFound
from fondation.logs import setup_logging
from fondation.settings import Settings, describe_settings, load_settings
from tasks.course.usage import step_usage, total_usage

STATE_DIR = Path(".fondation")


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _redis_url(settings: Settings) -> str | None:
    """REDIS_URL, or the embedded Redis of a running ``fondation up``."""
    if settings.redis_url:
        return settings.redis_url
    marker = STATE_DIR / "redis.url"
    return marker.read_text().strip() if marker.exists() else None


def _settings_epilog() -> str:
    rows = [
        f"  {name:<30} {default or '-':<22} {meaning}"
        for name, default, meaning in describe_settings()
    ]
    return "Environment variables (default, meaning):\n\n\b\n" + "\n".join(rows)


@click.group(epilog=_settings_epilog(), context_settings={"max_content_width": 120})
def cli() -> None:
    """Fondation worker: turn a repository into a course, with Celery workers."""


def _job_dict(job: JobRecord) -> dict[str, Any]:
    return job.model_dump(by_alias=True, exclude={"callback_token", "lease_token"})


def _open(settings: Settings) -> JobStore:
    try:
        return open_store(settings)
    except FondationError as exc:
        raise click.ClickException(str(exc)) from exc


# --- the main job -------------------------------------------------------------------


@cli.command()
@click.argument("repo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("course"),
    show_default=True,
    help="Folder the course is written to.",
)
@click.option("--ref", default=None, help="Branch or tag (default: the default branch).")
@click.option("--prompt", default="", help="Extra instructions for the engine.")
@click.option("--timeout", "timeout_s", type=float, default=None, help="Give up after seconds.")
def analyze(
    repo: str, out_dir: Path, ref: str | None, prompt: str, timeout_s: float | None
) -> None:
    """Analyse REPO (a path, owner/repo or an https URL) and write the course to --out.

    Starts what is missing: an embedded Redis, the SQLite store under ./.fondation/, a
    bridge and a worker."""
    from cli.progress import follow_job
    from cli.stack import Stack
    from cli.submit import repository_spec, submit_job

    settings = _settings()
    if settings.redis_url is None:
        # The embedded mode analyses what is on this machine: local paths are accepted.
        settings = settings.model_copy(update={"allow_local_repos": True})
    setup_logging(settings)
    try:
        repository_spec(repo, settings)  # refuse bad input before starting anything
    except FondationError as exc:
        raise click.ClickException(str(exc)) from exc
    store = _open(settings)
    with Stack(settings, state_dir=STATE_DIR, health_port=0, log_dir=STATE_DIR / "logs") as st:
        try:
            job, _ = submit_job(
                store, settings, repo, ref=ref, prompt=prompt, redis_url=st.redis_url
            )
        except FondationError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"job {job.id}", err=True)
        final = follow_job(store, job.id, timeout_s=timeout_s, stack=st)
        st.stop(job_done=True)  # at once: see Stack.stop
    _finish(store, final, out_dir)


def _finish(store: JobStore, job: JobRecord, out_dir: Path) -> None:
    from tasks.course.course import write_docs

    if job.status != "completed":
        raise click.ClickException(f"job {job.id} {job.status}: {job.error or job.last_error}")
    paths = write_docs(store.get_docs(job.id), out_dir)
    click.echo(
        f"course written to {out_dir}/ ({len(paths)} files); start at {out_dir / 'index.md'}"
    )


@cli.command()
@click.option("--flower-port", type=int, default=5555, show_default=True)
@click.option("--no-flower", is_flag=True, help="Do not start Flower.")
def up(flower_port: int, no_flower: bool) -> None:
    """Run Redis (embedded when REDIS_URL is unset), a bridge, a worker and Flower
    in the foreground until Ctrl-C."""
    from cli.stack import STOP_SIGNALS, Stack, pick_health_port

    settings = _settings()
    setup_logging(settings)
    _open(settings)  # creates the store and fails early on a bad configuration
    port = pick_health_port(settings.health_port)
    stack = Stack(
        settings,
        state_dir=STATE_DIR,
        health_port=port,
        flower_port=None if no_flower else flower_port,
    )
    try:
        stack.start()
    except BaseException:
        stack.stop()  # what started before the failure
        raise
    (STATE_DIR / "redis.url").write_text(stack.redis_url)
    click.echo(
        f"up: health view http://127.0.0.1:{port}/"
        + ("" if no_flower else f", Flower http://127.0.0.1:{flower_port}/")
        + "; Ctrl-C stops"
    )
    try:
        # SIGTERM, SIGINT and SIGHUP each stop the whole stack; see Stack.serve.
        reason = stack.serve()
    finally:
        (STATE_DIR / "redis.url").unlink(missing_ok=True)
    click.echo(f"stopped: {reason}", err=True)
    if reason not in {sig.name for sig in STOP_SIGNALS}:
        sys.exit(1)  # a child died: a supervisor should see a failure


# --- jobs ---------------------------------------------------------------------------


@cli.command()
@click.argument("repo")
@click.option("--ref", default=None)
@click.option("--prompt", default="")
@click.option("--dedupe-key", default=None, help="Return the live job holding this key.")
def submit(repo: str, ref: str | None, prompt: str, dedupe_key: str | None) -> None:
    """Create a job for REPO and print its id."""
    from cli.submit import submit_job

    settings = _settings()
    try:
        job, _ = submit_job(
            _open(settings),
            settings,
            repo,
            ref=ref,
            prompt=prompt,
            dedupe_key=dedupe_key,
            redis_url=_redis_url(settings),
        )
    except FondationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(job.id)


@cli.command()
@click.option("--status", default=None, help="Only jobs with this status.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def jobs(status: str | None, limit: int, as_json: bool) -> None:
    """List jobs, newest first."""
    rows = _open(_settings()).list_jobs(status=status, limit=limit)
    if as_json:
        click.echo(json.dumps([_job_dict(j) for j in rows], indent=1))
        return
    click.echo(f"{'ID':<34} {'STATUS':<10} {'ATT':>3}  PROGRESS")
    for j in rows:
        click.echo(f"{j.id:<34} {j.status:<10} {j.attempts:>3}  {j.progress or ''}")


def _get(store: JobStore, job_id: str) -> JobRecord:
    try:
        return store.get_job(job_id)
    except JobNotFound as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
def job(job_id: str, as_json: bool) -> None:
    """Show one job with its steps and logs."""
    store = _open(_settings())
    record = _get(store, job_id)
    steps = store.get_steps(job_id)
    logs = store.get_logs(job_id)
    if as_json:
        data = _job_dict(record)
        data["steps"] = [
            s.model_dump(by_alias=True, exclude={"artifact", "usage"}) | {"usage": step_usage(s)}
            for s in steps
        ]
        data["usage"] = total_usage(steps)
        data["logs"] = [entry.model_dump(by_alias=True) for entry in logs]
        click.echo(json.dumps(data, indent=1))
        return
    click.echo(f"job {record.id}: {record.status} ({record.progress or ''})")
    click.echo(f"  attempts {record.attempts}/{record.max_attempts}")
    if record.last_error:
        click.echo(f"  last error: {record.last_error}")
    for s in steps:
        took = (
            "" if s.completed_at is None else f" in {(s.completed_at - s.started_at) / 1000:.1f} s"
        )
        click.echo(f"  step {s.step} {s.name}: {s.status}{took}, runs {s.runs}{_spent(s)}")
    total = total_usage(steps)
    if total:
        click.echo(f"  engine spent: {_describe_usage(total)}")
    for entry in logs[-20:]:
        click.echo(f"  [{entry.level}] {entry.msg}")


def _describe_usage(usage: dict[str, Any]) -> str:
    parts = []
    if "cost_usd" in usage:
        parts.append(f"${usage['cost_usd']:.4f}")
    if "turns" in usage:
        parts.append(f"{usage['turns']} turns")
    if "calls" in usage:
        parts.append(f"{usage['calls']} calls")
    if "duration_ms" in usage:
        parts.append(f"{usage['duration_ms'] / 1000:.1f} s of calls")
    if "input_tokens" in usage:
        parts.append(f"{usage['input_tokens']}+{usage.get('output_tokens', 0)} tokens")
    return ", ".join(parts)


def _spent(record: StepRecord) -> str:
    usage = step_usage(record)
    return f" ({_describe_usage(usage)})" if usage else ""


@cli.command()
@click.argument("job_id")
def cancel(job_id: str) -> None:
    """Cancel a job: at once when pending, within seconds when running."""
    from cli.submit import announce_url

    settings = _settings()
    store = _open(settings)
    _get(store, job_id)
    record = store.request_cancel(job_id, now_ms())
    announce_url(_redis_url(settings), "cancel")
    click.echo(
        f"{job_id}: {'canceled' if record.status == 'canceled' else record.status}"
        f"{' (cancel requested)' if record.status not in FINAL_STATUSES else ''}"
    )


@cli.command()
@click.argument("job_id")
def retry(job_id: str) -> None:
    """Run a failed, dead or canceled job again from its first unfinished step."""
    from cli.submit import announce_url

    settings = _settings()
    store = _open(settings)
    _get(store, job_id)
    try:
        record = store.retry_job(job_id, now_ms())
    except FondationError as exc:
        raise click.ClickException(str(exc)) from exc
    announce_url(_redis_url(settings), "retry")
    click.echo(f"{job_id}: {record.status}")


@cli.command()
@click.argument("job_id")
@click.argument("out_dir", type=click.Path(path_type=Path))
def export(job_id: str, out_dir: Path) -> None:
    """Write a completed job's course as files under OUT_DIR."""
    store = _open(_settings())
    _finish(store, _get(store, job_id), out_dir)


# --- operators ----------------------------------------------------------------------


@cli.command(name="requeue-stuck")
@click.option(
    "--idle",
    "idle_s",
    type=float,
    default=3600,
    show_default=True,
    help="Also count active jobs not updated for this many seconds.",
)
@click.option("--limit", default=100, show_default=True)
@click.option("--dry-run", is_flag=True, help="List what would be requeued, change nothing.")
def requeue_stuck(idle_s: float, limit: int, dry_run: bool) -> None:
    """Put stuck jobs (lease expired, or idle too long) back to pending."""
    store = _open(_settings())
    stuck = store.list_stuck(now_ms(), int(idle_s * 1000), limit)
    for j in stuck:
        if not dry_run:
            store.requeue(j.id, now_ms(), "requeued by an operator (stuck)")
        click.echo(
            f"{'would requeue' if dry_run else 'requeued'} {j.id} ({j.status}, {j.progress or ''})"
        )
    click.echo(f"{len(stuck)} stuck job(s){' (dry run)' if dry_run else ''}")


@cli.command()
@click.option(
    "--older-than", "days", type=float, required=True, help="Finished more than this many days ago."
)
@click.option("--limit", default=1000, show_default=True)
@click.option("--dry-run", is_flag=True, help="List what would be deleted, delete nothing.")
def purge(days: float, limit: int, dry_run: bool) -> None:
    """Delete finished jobs (with their steps and logs; docs stay) older than N days."""
    store = _open(_settings())
    ids = store.purge(now_ms() - int(days * 86_400_000), limit, dry_run)
    for job_id in ids:
        click.echo(f"{'would purge' if dry_run else 'purged'} {job_id}")
    click.echo(f"{len(ids)} job(s){' (dry run)' if dry_run else ''}")


@cli.command()
@click.option("--url", default=None, help="Health view URL (default: this host's HEALTH_PORT).")
@click.option("--json", "as_json", is_flag=True)
def health(url: str | None, as_json: bool) -> None:
    """Print the bridge's /health checks as a table; exit 1 when any fails."""
    import httpx

    settings = _settings()
    target = url or f"http://127.0.0.1:{settings.health_port}/health"
    try:
        response = httpx.get(target, timeout=10)
        report = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise click.ClickException(f"health view unreachable at {target}: {exc}") from exc
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        click.echo(f"{'CHECK':<16} {'OK':<4} DETAIL")
        for name, check in report.get("checks", {}).items():
            click.echo(f"{name:<16} {'yes' if check['ok'] else 'NO':<4} {check['detail']}")
        click.echo(f"overall: {report.get('status')}")
    if response.status_code != 200:
        sys.exit(1)


# --- services -----------------------------------------------------------------------


@cli.command()
def bridge() -> None:
    """Run a bridge: lease jobs, dispatch chains, serve the health view."""
    from bridge.service import run_bridge
    from tasks.worker.app import create_app

    settings = _settings()
    setup_logging(settings)
    url = _redis_url(settings)
    if not url:
        raise click.ClickException("REDIS_URL is not set (fondation up starts an embedded one)")
    run_bridge(settings, url, create_app(settings, url))


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a Celery worker with this project's defaults; extra arguments go to celery."""
    from tasks.worker.process import run_worker

    settings = _settings()
    setup_logging(settings)
    url = _redis_url(settings)
    if not url:
        raise click.ClickException("REDIS_URL is not set (fondation up starts an embedded one)")
    run_worker(settings, url, list(ctx.args))


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--port", type=int, default=5555, show_default=True)
@click.pass_context
def flower(ctx: click.Context, port: int) -> None:
    """Run Flower on the project's Redis (FLOWER_BASIC_AUTH protects it)."""
    from tasks.worker.flower import run_flower

    settings = _settings()
    url = _redis_url(settings)
    if not url:
        raise click.ClickException("REDIS_URL is not set")
    run_flower(url, port, STATE_DIR / "flower.db", list(ctx.args))


@cli.command(name="worker-health")
def worker_health() -> None:
    """Exit 0 when a worker of this host beats in Redis (a container's cheap liveness
    check: no broker round trip to the worker, no bridge needed)."""
    import socket

    import redis

    from fondation import keys

    url = _redis_url(_settings())
    if not url:
        raise click.ClickException("REDIS_URL is not set")
    client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
    try:
        pattern = keys.worker_alive(f"*@{socket.gethostname()}")
        found = next(iter(client.scan_iter(pattern, count=500)), None)
    except (redis.RedisError, OSError) as exc:
        raise click.ClickException(f"Redis unreachable: {exc}") from exc
    if found is None:
        raise click.ClickException(f"no live worker on {socket.gethostname()}")
    click.echo("ok")


@cli.command(name="settings")
def settings_cmd() -> None:
    """List every environment variable with its default and meaning."""
    for name, default, meaning in describe_settings():
        click.echo(f"{name:<30} {default or '-':<24} {meaning}")


def main() -> None:
    try:
        cli(standalone_mode=True)
    except FondationError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
