"""The generic top-level names this distribution installs stay ours alone: no other
installed distribution ships a top-level package or module of the same name."""

from __future__ import annotations

from importlib import metadata

OURS = "fondation-worker"
NAMES = {"bridge", "tasks", "cli", "fondation", "store", "checkout", "analysis"}


def top_level_names(dist: metadata.Distribution) -> set[str]:
    """What a distribution puts at the top of site-packages, from its file list (and its
    top_level.txt, which older builds write instead of a full list)."""
    names = set((dist.read_text("top_level.txt") or "").split())
    for path in dist.files or ():
        first = path.parts[0]
        if first.endswith((".dist-info", ".egg-info", ".data")) or first in {"..", "__pycache__"}:
            continue
        names.add(first.removesuffix(".py"))
    return names


def test_no_other_installed_distribution_ships_our_top_level_names() -> None:
    clashes = {
        dist.metadata["Name"]: sorted(top_level_names(dist) & NAMES)
        for dist in metadata.distributions()
        if dist.metadata["Name"] != OURS and top_level_names(dist) & NAMES
    }
    assert clashes == {}


def test_our_distribution_is_installed_under_its_name() -> None:
    # The check above reads nothing if ours is missing from the environment.
    assert metadata.distribution(OURS).metadata["Name"] == OURS
