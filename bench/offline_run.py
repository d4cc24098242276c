"""All six offline steps on one repository, in this process; the caller reads the peak
memory of the process afterwards."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from analysis.engine import StepContext
from analysis.offline import OfflineEngine

# Installed packages whose sources make a repository of about 50,000 lines.
SOURCES = ("celery", "httpx")


def build_repo(dest: Path) -> Path:
    """A git repository of installed sources none of us wrote (made once, then reused)."""
    if (dest / ".git").is_dir():
        return dest
    site = Path(sysconfig.get_paths()["purelib"])
    dest.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        shutil.copytree(site / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@fondation.invalid",
           "-c", "init.defaultBranch=main", "-C", str(dest)]  # fmt: skip
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "sources"], check=True)
    return dest


def count_lines(root: Path) -> int:
    return sum(
        len(p.read_bytes().splitlines()) for p in root.rglob("*.py") if ".git" not in p.parts
    )


def run(repo: str) -> tuple[int, float]:
    root = build_repo(Path(repo))
    lines = count_lines(root)
    engine = OfflineEngine()
    ctx = StepContext("bench", root, "", Path(tempfile.mkdtemp(prefix="fondation-bench-off-")))
    started = time.monotonic()
    ctx.abstractions = engine.extract_abstractions(ctx)
    ctx.relationships = engine.analyze_relationships(ctx)
    ctx.order = engine.determine_order(ctx)
    ctx.chapters = engine.generate_chapters(ctx)
    ctx.review = engine.review_chapters(ctx)
    engine.create_tutorials(ctx)
    return lines, time.monotonic() - started


if __name__ == "__main__":
    print(run(sys.argv[1]))
