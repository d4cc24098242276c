"""Private repositories: a real git over HTTPS from a host that demands the token."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.store.sqlite import SqliteStore
from fondation.errors import PermanentError
from fondation.settings import load_settings
from fondation.submit import submit_job
from tasks.checkout import clone
from tasks.engines.base import CancelToken
from tasks.repo_url import validate_repo_url
from tests.support import services
from tests.support.git_https import PrivateGitHost, serve_private_git
from tests.support.gitrepo import make_repo

pytestmark = pytest.mark.integration

TOKEN = "ghp_" + "PrIvAtE" * 6


@pytest.fixture
def private_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateGitHost]:
    try:
        hosts = serve_private_git(tmp_path / "githost", TOKEN)
        host = next(hosts)
    except PermissionError:
        pytest.skip("binding port 443 of a loopback address needs root")
    monkeypatch.setenv("GIT_SSL_CAINFO", str(host.ca_file))
    yield host
    hosts.close()


def _clone(host: PrivateGitHost, dest: Path, token: str | None) -> None:
    source = validate_repo_url(
        host.url("ada/private"), allowed_hosts=frozenset({host.address}), allow_local=False
    )
    clone(source, None, dest, depth=1, token=token, cancel=CancelToken(), timeout_s=60.0,
          max_bytes=10_000_000)  # fmt: skip


def _secrets() -> tuple[bytes, bytes]:
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode())
    return TOKEN.encode(), basic


def _files_holding(root: Path, needles: tuple[bytes, ...]) -> list[Path]:
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and any(n in p.read_bytes() for n in needles)
    ]


def test_the_host_refuses_a_clone_without_the_token(
    private_host: PrivateGitHost, tmp_path: Path
) -> None:
    private_host.publish(make_repo(tmp_path / "src"), "ada/private")
    with pytest.raises(PermanentError):
        _clone(private_host, tmp_path / "checkout", None)
    assert private_host.requests
    assert private_host.authorized == 0


def test_a_clone_with_the_token_gets_the_repository_and_keeps_no_trace_of_it(
    private_host: PrivateGitHost, tmp_path: Path
) -> None:
    private_host.publish(make_repo(tmp_path / "src"), "ada/private")
    dest = tmp_path / "checkout"
    _clone(private_host, dest, TOKEN)
    assert (dest / "README.md").exists()
    assert private_host.authorized >= 1
    assert _files_holding(dest, _secrets()) == []
    remote = subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=dest, capture_output=True, text=True, check=True
    )
    assert remote.stdout.strip() == private_host.url("ada/private")


def test_a_job_clones_a_private_repository_with_git_token_and_leaves_it_nowhere(
    private_host: PrivateGitHost, tmp_path: Path, redis_url: str
) -> None:
    """The embedded store has no users: the operator's GIT_TOKEN is the job's token. It
    reaches git and nothing else: not the store, the logs, or any file of the job."""
    private_host.publish(make_repo(tmp_path / "src"), "ada/private")
    env = services.base_env(
        tmp_path,
        redis_url,
        ANALYSIS_ENGINE="offline",
        GIT_TOKEN=TOKEN,
        ALLOWED_GIT_HOSTS=private_host.address,
        GIT_SSL_CAINFO=str(private_host.ca_file),
        ALLOW_LOCAL_REPOS="false",
    )
    store = SqliteStore(Path(env["SQLITE_PATH"]))
    settings = load_settings(
        sqlite_path=Path(env["SQLITE_PATH"]), allowed_git_hosts=private_host.address
    )
    w = services.worker(tmp_path, env)
    b = services.bridge(tmp_path, env)
    try:
        job, _ = submit_job(store, settings, private_host.url("ada/private"), redis_url=redis_url)
        services.wait_for(lambda: store.get_job(job.id).is_final, 120, "the job to end")
        final = store.get_job(job.id)
        assert final.status == "completed", (final, w.log()[-3000:])
        assert private_host.authorized >= 1
    finally:
        w.stop()
        b.stop()
    store.close()
    # Every file the run wrote: the SQLite store, the logs, TEMP_DIR.
    assert _files_holding(tmp_path / "store", _secrets()) == []
    assert _files_holding(tmp_path / "logs", _secrets()) == []
    assert _files_holding(tmp_path / "work", _secrets()) == []
