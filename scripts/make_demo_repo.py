"""Create the demo repository: a copy of this project's own Python sources committed
into a fresh git repository, so the demo analyses real code and needs no network."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The installed packages, floor by floor (pyproject.toml), with the README and the
# pyproject.toml that declares the `fondation` command.
SOURCES = (
    "cli",
    "bridge",
    "tasks",
    "analysis",
    "checkout",
    "store",
    "fondation",
    "README.md",
    "pyproject.toml",
)


def main(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    git = [
        "git",
        "-c",
        "user.name=Fondation demo",
        "-c",
        "user.email=demo@fondation.invalid",
        "-c",
        "init.defaultBranch=main",
        "-c",
        "commit.gpgsign=false",
        "-C",
        str(dest),
    ]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "Demo snapshot"], check=True)
    print(f"demo repository ready at {dest}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".fondation/demo-repo"))
