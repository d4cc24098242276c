"""The main job in one command (`fondation analyze`) and the embedded stack (`fondation up`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.group import STATE_DIR, cli, cli_settings, open_job_store
from fondation.errors import FondationError
from fondation.logs import setup_logging
from store.base import JobStore
from store.records import JobRecord

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
@click.option(
    "--fresh",
    is_flag=True,
    help="Redo everything: reuse no earlier job's work for this repository.",
)
def analyze(
    repo: str, out_dir: Path, ref: str | None, prompt: str, timeout_s: float | None, fresh: bool
) -> None:
    """Analyse REPO (a path, owner/repo or an https URL) and write the course to --out.

    Starts what is missing: an embedded Redis, the SQLite store under ./.fondation/, a
    bridge and a worker."""
    from cli.follow import follow_job
    from cli.stack import Stack
    from cli.submit import repository_spec, submit_job

    settings = cli_settings()
    if settings.redis_url is None:
        # The embedded mode analyses what is on this machine: local paths are accepted.
        settings = settings.model_copy(update={"allow_local_repos": True})
    setup_logging(settings)
    try:
        repository_spec(repo, settings)  # refuse bad input before starting anything
    except FondationError as exc:
        raise click.ClickException(str(exc)) from exc
    store = open_job_store(settings)
    with Stack(settings, state_dir=STATE_DIR, health_port=0, log_dir=STATE_DIR / "logs") as st:
        try:
            job, _ = submit_job(
                store, settings, repo, ref=ref, prompt=prompt, fresh=fresh, redis_url=st.redis_url
            )
        except FondationError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"job {job.id}", err=True)
        final = follow_job(store, job.id, timeout_s=timeout_s, stack=st)
        st.stop(job_done=True)  # at once: see Stack.stop
    write_result(store, final, out_dir)


def write_result(store: JobStore, job: JobRecord, out_dir: Path) -> None:
    from analysis.course.course import write_docs

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

    settings = cli_settings()
    setup_logging(settings)
    open_job_store(settings)  # creates the store and fails early on a bad configuration
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
    if stack.redis is not None:
        # How the other commands find the embedded Redis. A REDIS_URL of the operator's
        # is never written down: it may hold a password, and they read it themselves.
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
