"""The `fondation` command as a user runs it: the main job in one command on the
embedded defaults, the job commands, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from testbed.gitrepo import make_repo
from testbed.services import REPO_ROOT

pytestmark = pytest.mark.acceptance


def fondation(
    cwd: Path, *args: str, timeout_s: float = 180, locale: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI as a process; ``locale`` is the terminal's (LANG, LC_ALL and LC_MESSAGES
    unset) when given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "SQLITE_PATH", "JOB_STORE", "CONVEX_URL", "TEMP_DIR"}
    }
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["TEMP_DIR"] = str(cwd / "tmp")
    if locale is not None:
        for name in ("LC_ALL", "LC_MESSAGES", "LANG", "PROGRESS_LANGUAGE"):
            env.pop(name, None)
        env["LANG"] = locale
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def test_analyze_runs_the_whole_job_on_the_embedded_defaults(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop")
    out = fondation(tmp_path, "analyze", str(repo), "--out", "course")
    assert out.returncode == 0, out.stderr[-3000:]
    index = tmp_path / "course" / "index.md"
    assert index.exists()
    chapters = sorted((tmp_path / "course").glob("0*.md"))
    assert chapters
    assert "Step 3/6: Determining order" in out.stderr
    assert (tmp_path / ".fondation" / "fondation.db").exists()
    # The embedded Redis and the services were stopped on the way out.
    listed = fondation(tmp_path, "jobs", "--json")
    [job] = json.loads(listed.stdout)
    assert job["status"] == "completed"
    assert "callbackToken" not in job
    assert "leaseToken" not in job
    detail = fondation(tmp_path, "job", job["id"])
    assert "step 7 Saving course: completed" in detail.stdout
    again = fondation(tmp_path, "export", job["id"], "again")
    assert again.returncode == 0
    assert (tmp_path / "again" / "index.md").read_text() == index.read_text()


def test_analyze_refuses_a_bad_url_at_once_with_a_clear_error(tmp_path: Path) -> None:
    out = fondation(tmp_path, "analyze", "ext::sh -c touch% /tmp/x", timeout_s=30)
    assert out.returncode == 1
    assert "refused" in out.stderr
    assert not (tmp_path / ".fondation" / "redis").exists()  # nothing was started


def test_a_setting_written_in_seconds_is_refused_with_its_variable_and_unit(
    tmp_path: Path,
) -> None:
    env_out = subprocess.run(
        [sys.executable, "-m", "cli", "jobs"], cwd=tmp_path, capture_output=True,
        text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "LEASE_TIME": "300"},
    )  # fmt: skip
    assert env_out.returncode != 0
    assert "LEASE_TIME" in env_out.stderr
    assert "milliseconds" in env_out.stderr


def test_unknown_jobs_are_reported_clearly(tmp_path: Path) -> None:
    out = fondation(tmp_path, "job", "no-such-job")
    assert out.returncode == 1
    assert "no-such-job not found" in out.stderr


@pytest.mark.parametrize(
    ("locale", "done", "other"),
    [("C.UTF-8", "Completed", "Terminé"), ("fr_FR.UTF-8", "Terminé", "Completed")],
)
def test_the_terminal_speaks_its_locales_language_whatever_the_web_app_is_shown(
    tmp_path: Path, locale: str, done: str, other: str
) -> None:
    """PROGRESS_LANGUAGE stays French (the web app's UI) in the store; the bar of
    `fondation analyze` and the job listings follow the terminal's locale."""
    repo = make_repo(tmp_path / "shop")
    out = fondation(tmp_path, "analyze", str(repo), "--out", "course", locale=locale)
    assert out.returncode == 0, out.stderr[-3000:]
    bar = [line for line in out.stderr.splitlines() if "/8" in line]
    assert bar, out.stderr[-3000:]
    assert done in bar[-1]
    assert not [line for line in bar if other in line]
    if done == "Completed":  # the job's logs are English anyway: no French at all
        assert "Terminé" not in out.stderr
        assert "Étape" not in out.stderr
    listed = fondation(tmp_path, "jobs", locale=locale)
    assert done in listed.stdout
    [job] = json.loads(fondation(tmp_path, "jobs", "--json", locale=locale).stdout)
    assert job["progress"] == "Terminé"  # what the web app shows, unchanged


def test_a_claude_worker_without_credentials_stops_at_start_naming_the_variable(
    tmp_path: Path,
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"}
    }
    env.update(
        PYTHONPATH=str(REPO_ROOT), ANALYSIS_ENGINE="claude", REDIS_URL="redis://127.0.0.1:1/0"
    )
    out = subprocess.run(
        [sys.executable, "-m", "cli", "worker"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode != 0
    assert "set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN" in out.stderr
    assert "ANALYSIS_ENGINE=offline" in out.stderr


def test_claude_resume_lifts_the_fleets_pause_an_operator_must_lift(
    tmp_path: Path, redis_url: str
) -> None:
    from analysis.claude.gate import FleetGate
    from fondation.claude_fleet import NO_END, read_pause

    client = redis.Redis.from_url(redis_url)
    gate = FleetGate(client, max_calls=1, calls_per_minute=None, call_ttl_ms=60_000)
    gate.pause("spend", NO_END, 1_800_000_000_000, "Credit balance is too low")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "REDIS_URL": redis_url}
    run = [sys.executable, "-m", "cli", "claude-resume"]
    out = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                         check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "lifted the pause (spend): Credit balance is too low" in out.stdout
    assert read_pause(client) is None
    again = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=60, check=False)  # fmt: skip
    assert "were not paused" in again.stdout
