"""The ``fondation`` command: the main job in one command, the stack, and the operator's
tools. Every setting is an environment variable; ``fondation settings`` lists them. Each
group of commands is its own module; importing it registers its commands on ``cli``."""

from __future__ import annotations

import sys

import click

# Imported for the commands they register on the group.
from cli import analyze, jobs, operators, services  # noqa: F401
from cli.group import STATE_DIR, cli
from fondation.errors import FondationError

__all__ = ["STATE_DIR", "cli", "main"]


def main() -> None:
    try:
        cli(standalone_mode=True)
    except FondationError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
