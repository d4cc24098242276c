"""The long-running processes: a bridge, a worker, Flower, and the worker's health check."""

from __future__ import annotations

import os

import click

from cli.group import STATE_DIR, cli, cli_settings, redis_url
from fondation.logs import setup_logging

# --- services -----------------------------------------------------------------------


@cli.command()
def bridge() -> None:
    """Run a bridge: lease jobs, dispatch chains, serve the health view."""
    from bridge.service import run_bridge
    from tasks.worker.app import create_app

    settings = cli_settings()
    setup_logging(settings)
    url = redis_url(settings)
    if not url:
        raise click.ClickException("REDIS_URL is not set (fondation up starts an embedded one)")
    run_bridge(settings, url, create_app(settings, url))


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run a Celery worker with this project's defaults; extra arguments go to celery."""
    # Before anything imports billiard or Celery's worker: both read REMAP_SIGTERM once,
    # when first imported (see run_worker for why SIGTERM is remapped).
    os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
    from tasks.worker.process import run_worker

    settings = cli_settings()
    setup_logging(settings)
    url = redis_url(settings)
    if not url:
        raise click.ClickException("REDIS_URL is not set (fondation up starts an embedded one)")
    run_worker(settings, url, list(ctx.args))


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--port", type=int, default=5555, show_default=True)
@click.pass_context
def flower(ctx: click.Context, port: int) -> None:
    """Run Flower on the project's Redis (FLOWER_BASIC_AUTH protects it)."""
    from tasks.worker.flower import run_flower

    settings = cli_settings()
    url = redis_url(settings)
    if not url:
        raise click.ClickException("REDIS_URL is not set")
    run_flower(settings, url, port, STATE_DIR / "flower.db", list(ctx.args))


@cli.command(name="worker-health")
def worker_health() -> None:
    """Exit 0 when a worker of this host beats in Redis (a container's cheap liveness
    check: no broker round trip to the worker, no bridge needed)."""
    import socket

    import redis

    from fondation import keys
    from fondation.redis_client import connect_redis

    url = redis_url(cli_settings())
    if not url:
        raise click.ClickException("REDIS_URL is not set")
    client = connect_redis(url, socket_timeout_s=3, socket_connect_timeout_s=3)
    try:
        pattern = keys.worker_alive(f"*@{socket.gethostname()}")
        found = next(iter(client.scan_iter(pattern, count=500)), None)
    except (redis.RedisError, OSError) as exc:
        raise click.ClickException(f"Redis unreachable: {exc}") from exc
    if found is None:
        raise click.ClickException(f"no live worker on {socket.gethostname()}")
    click.echo("ok")
