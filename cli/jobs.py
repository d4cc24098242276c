"""The commands on jobs: submit, list, show, cancel, retry, export."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from analysis.course.usage import step_usage, total_usage
from cli.analyze import write_result
from cli.group import cli, cli_settings, job_dict, open_job_store, redis_url
from cli.terminal_text import job_state_text, terminal_language
from fondation.clock import now_ms
from fondation.errors import FondationError, JobNotFound
from store.base import JobStore
from store.records import FINAL_STATUSES, JobRecord, StepState

# --- jobs ---------------------------------------------------------------------------


@cli.command()
@click.argument("repo")
@click.option("--ref", default=None)
@click.option("--prompt", default="")
@click.option("--dedupe-key", default=None, help="Return the live job holding this key.")
@click.option(
    "--fresh",
    is_flag=True,
    help="Redo everything: reuse no earlier job's work for this repository.",
)
def submit(repo: str, ref: str | None, prompt: str, dedupe_key: str | None, fresh: bool) -> None:
    """Create a job for REPO and print its id."""
    from cli.submit import submit_job

    settings = cli_settings()
    try:
        job, _ = submit_job(
            open_job_store(settings),
            settings,
            repo,
            ref=ref,
            prompt=prompt,
            dedupe_key=dedupe_key,
            fresh=fresh,
            redis_url=redis_url(settings),
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
    rows = open_job_store(cli_settings()).list_jobs(status=status, limit=limit)
    if as_json:
        click.echo(json.dumps([job_dict(j) for j in rows], indent=1))
        return
    language = terminal_language(os.environ)
    click.echo(f"{'ID':<34} {'STATUS':<10} {'ATT':>3}  PROGRESS")
    for j in rows:
        click.echo(f"{j.id:<34} {j.status:<10} {j.attempts:>3}  {job_state_text(j, language)}")


def get_job(store: JobStore, job_id: str) -> JobRecord:
    try:
        return store.get_job(job_id)
    except JobNotFound as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
def job(job_id: str, as_json: bool) -> None:
    """Show one job with its steps and logs."""
    store = open_job_store(cli_settings())
    record = get_job(store, job_id)
    steps = store.step_states(job_id)
    logs = store.get_logs(job_id)
    if as_json:
        data = job_dict(record)
        data["steps"] = [
            s.model_dump(by_alias=True, exclude={"usage"}) | {"usage": step_usage(s)} for s in steps
        ]
        data["usage"] = total_usage(steps)
        data["logs"] = [entry.model_dump(by_alias=True) for entry in logs]
        click.echo(json.dumps(data, indent=1))
        return
    state = job_state_text(record, terminal_language(os.environ))
    click.echo(f"job {record.id}: {record.status} ({state})")
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
    if total.get("saved_calls"):
        click.echo(f"  reused: {_describe_saving(total)}")
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


def _describe_saving(usage: dict[str, Any]) -> str:
    """What earlier jobs' reused work saved this one (analysis/step_reuse.py and
    analysis/claude/answers.py record it)."""
    calls = usage["saved_calls"]
    parts = [f"{calls} call{'' if calls == 1 else 's'} not made"]
    if "saved_cost_usd" in usage:
        parts.append(f"${usage['saved_cost_usd']:.4f} saved")
    if "saved_input_tokens" in usage:
        tokens = f"{usage['saved_input_tokens']}+{usage.get('saved_output_tokens', 0)}"
        parts.append(f"{tokens} tokens saved")
    return ", ".join(parts)


def _spent(record: StepState) -> str:
    usage = step_usage(record)
    if not usage:
        return ""
    saving = f"; reused: {_describe_saving(usage)}" if usage.get("saved_calls") else ""
    return f" ({_describe_usage(usage)}{saving})"


@cli.command()
@click.argument("job_id")
def cancel(job_id: str) -> None:
    """Cancel a job: at once when pending, within seconds when running."""
    from cli.submit import announce_url

    settings = cli_settings()
    store = open_job_store(settings)
    get_job(store, job_id)
    record = store.request_cancel(job_id, now_ms())
    announce_url(redis_url(settings), "cancel")
    click.echo(
        f"{job_id}: {'canceled' if record.status == 'canceled' else record.status}"
        f"{' (cancel requested)' if record.status not in FINAL_STATUSES else ''}"
    )


@cli.command()
@click.argument("job_id")
def retry(job_id: str) -> None:
    """Run a failed, dead or canceled job again from its first unfinished step."""
    from cli.submit import announce_url

    settings = cli_settings()
    store = open_job_store(settings)
    get_job(store, job_id)
    try:
        record = store.retry_job(job_id, now_ms())
    except FondationError as exc:
        raise click.ClickException(str(exc)) from exc
    announce_url(redis_url(settings), "retry")
    click.echo(f"{job_id}: {record.status}")


@cli.command()
@click.argument("job_id")
@click.argument("out_dir", type=click.Path(path_type=Path))
def export(job_id: str, out_dir: Path) -> None:
    """Write a completed job's course as files under OUT_DIR."""
    store = open_job_store(cli_settings())
    write_result(store, get_job(store, job_id), out_dir)
