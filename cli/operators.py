"""The operator's tools: requeue stuck jobs, purge old ones, the health view, the settings."""

from __future__ import annotations

import json
import os
import sys

import click
import redis

from cli.group import cli, cli_settings, open_job_store, redis_url
from cli.terminal_text import job_state_text, terminal_language
from fondation.claude_fleet import lift_pause
from fondation.clock import now_ms
from fondation.settings import setting_rows, shown_value, unit_of

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
    store = open_job_store(cli_settings())
    stuck = store.list_stuck(now_ms(), int(idle_s * 1000), limit)
    language = terminal_language(os.environ)
    for j in stuck:
        if not dry_run:
            store.requeue(j.id, now_ms(), "requeued by an operator (stuck)")
        done = "would requeue" if dry_run else "requeued"
        click.echo(f"{done} {j.id} ({j.status}, {job_state_text(j, language)})")
    click.echo(f"{len(stuck)} stuck job(s){' (dry run)' if dry_run else ''}")


@cli.command()
@click.option(
    "--older-than", "days", type=float, required=True, help="Finished more than this many days ago."
)
@click.option("--limit", default=1000, show_default=True)
@click.option("--dry-run", is_flag=True, help="List what would be deleted, delete nothing.")
def purge(days: float, limit: int, dry_run: bool) -> None:
    """Delete finished jobs (with their steps and logs; docs stay) older than N days."""
    store = open_job_store(cli_settings())
    ids = store.purge(now_ms() - int(days * 86_400_000), limit, dry_run)
    for job_id in ids:
        click.echo(f"{'would purge' if dry_run else 'purged'} {job_id}")
    click.echo(f"{len(ids)} job(s){' (dry run)' if dry_run else ''}")


@cli.command(name="claude-resume")
def claude_resume() -> None:
    """Lift the fleet's Claude pause (after raising a spend limit or adding credit)."""
    url = redis_url(cli_settings())
    if url is None:
        raise click.ClickException("no Redis: set REDIS_URL to the workers' Redis")
    client = redis.Redis.from_url(url)
    try:
        pause = lift_pause(client)
    finally:
        client.close()
    if pause is None:
        click.echo("the fleet's Claude calls were not paused")
    else:
        click.echo(f"lifted the pause ({pause.reason}): {pause.detail[:200]}")


@cli.command()
@click.option("--url", default=None, help="Health view URL (default: this host's HEALTH_PORT).")
@click.option("--json", "as_json", is_flag=True)
def health(url: str | None, as_json: bool) -> None:
    """Print the bridge's /health checks as a table; exit 1 when any fails."""
    import httpx

    settings = cli_settings()
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


@cli.command(name="settings")
def settings_cmd() -> None:
    """List every environment variable: its unit, its default, its current value (secrets
    shown only as set) and its meaning."""
    settings = cli_settings()
    click.echo(f"{'VARIABLE':<30} {'UNIT':<5} {'DEFAULT':<24} {'CURRENT':<24} MEANING")
    for variable, field_name, default, meaning in setting_rows():
        current = shown_value(settings, field_name)
        mark = "" if current == default else " *"
        click.echo(
            f"{variable:<30} {unit_of(field_name) or '-':<5} {default or '-':<24}"
            f" {(current or '-') + mark:<24} {meaning}"
        )
    click.echo("(* differs from the default)")
