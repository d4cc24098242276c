"""Private repositories: a real git over HTTPS from a host that demands the token."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from checkout.clone import clone
from checkout.github_token import NOT_FOUND_MESSAGE
from checkout.repo_url import validate_repo_url
from cli.submit import submit_job
from fondation.cancel import CancelToken
from fondation.errors import PermanentError
from fondation.settings import load_settings
from store.sqlite import SqliteStore
from testbed import services
from testbed.convex_standin.fixture import StandIn, make_convex_store
from testbed.convex_standin.stack import running_stack
from testbed.convex_standin.webapp import WebApp
from testbed.gitrepo import make_repo
from tests.support.git_https import PrivateGitHost, serve_private_git
from tests.support.web_tokens import node_available, web_encrypt, web_encrypt_in_development

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


KEY_HEX = "5e" * 32


def _web_stack(
    tmp_path: Path,
    redis_url: str,
    standin: StandIn,
    host: PrivateGitHost,
    key_hex: str | None = KEY_HEX,
) -> AbstractContextManager[WebApp]:
    """The web app's stack, cloning from the private host with the offline engine; with
    ``key_hex`` None, the workers have no ENCRYPTION_KEY."""
    key = {} if key_hex is None else {"ENCRYPTION_KEY": key_hex}
    return running_stack(
        tmp_path, redis_url, standin, **key,
        ANALYSIS_ENGINE="offline", ALLOW_LOCAL_REPOS="false",
        ALLOWED_GIT_HOSTS=host.address, GIT_SSL_CAINFO=str(host.ca_file),
        # The operator's token must never stand in for a user's.
        GIT_TOKEN="ghp_" + "OpErAtOr" * 5,
    )  # fmt: skip


def _wait_final(web: WebApp, job_id: str) -> dict[str, Any]:
    final = {"completed", "failed", "canceled", "dead"}
    services.wait_for(lambda: web.job(job_id)["status"] in final, 120, "the job to end")
    return web.job(job_id)


def test_a_web_job_clones_its_owners_private_repository_with_the_owners_encrypted_token(
    private_host: PrivateGitHost, tmp_path: Path, redis_url: str, convex_standin: StandIn
) -> None:
    private_host.publish(make_repo(tmp_path / "src"), "ada/private")
    with _web_stack(tmp_path, redis_url, convex_standin, private_host) as web:
        user = web.sign_in("ada", token=web_encrypt(TOKEN, KEY_HEX))
        repo = web.add_repository(user, "ada/private", clone_url=private_host.url("ada/private"))
        job_id = web.regenerate(user, repo, "ada/private")
        job = _wait_final(web, job_id)
        assert job["status"] == "completed", job
        assert private_host.authorized >= 1
        store = make_convex_store(convex_standin.url, convex_standin.secret)
        # What the store holds of the job: its fields, docs, steps and logs.
        held = json.dumps(
            [
                job,
                web.docs(job_id),
                [s.model_dump(mode="json") for s in store.get_steps(job_id)],
                [entry.model_dump(mode="json") for entry in store.get_logs(job_id)],
            ]
        ).encode()
        store.close()
    assert not any(secret in held for secret in _secrets())
    assert _files_holding(tmp_path / "logs", _secrets()) == []
    assert _files_holding(tmp_path / "work", _secrets()) == []


@pytest.mark.skipif(not node_available(), reason="needs node, the web app's runtime")
def test_a_web_app_in_its_development_setup_clones_private_repositories_with_a_warning(
    private_host: PrivateGitHost, tmp_path: Path, redis_url: str, convex_standin: StandIn
) -> None:
    """Neither the web app nor the workers have ENCRYPTION_KEY: the token the web app
    encrypted under its development key (by Node) still clones, and the worker said at
    start what that key is worth."""
    private_host.publish(make_repo(tmp_path / "src"), "ada/private")
    with _web_stack(tmp_path, redis_url, convex_standin, private_host, key_hex=None) as web:
        user = web.sign_in("ada", token=web_encrypt_in_development(TOKEN))
        repo = web.add_repository(user, "ada/private", clone_url=private_host.url("ada/private"))
        job = _wait_final(web, web.regenerate(user, repo, "ada/private"))
    assert job["status"] == "completed", job
    assert private_host.authorized >= 1
    warnings = [
        json.loads(line)
        for line in (tmp_path / "logs" / "worker.log").read_text().splitlines()
        if "ENCRYPTION_KEY is unset" in line
    ]
    assert [w["level"] for w in warnings] == ["warning"], warnings


def test_an_operators_cli_submission_runs_on_the_web_users_row_where_the_web_finds_it(
    private_host: PrivateGitHost, tmp_path: Path, redis_url: str, convex_standin: StandIn
) -> None:
    """`fondation submit owner/repo` on Convex for a repository a web user has: no second
    row; the job is the user's (it clones with the user's token); the web's `/latest`
    shows its course; and Regenerate, on the user's row, still runs after it."""
    private_host.publish(make_repo(tmp_path / "src"), "ada/private")
    url = private_host.url("ada/private")
    with _web_stack(tmp_path, redis_url, convex_standin, private_host) as web:
        user = web.sign_in("ada", token=web_encrypt(TOKEN, KEY_HEX))
        repo = web.add_repository(user, "ada/private", clone_url=url)
        store = make_convex_store(convex_standin.url, convex_standin.secret)
        settings = load_settings(
            convex_url=convex_standin.url,
            convex_worker_secret=convex_standin.secret,
            allowed_git_hosts=private_host.address,
        )
        try:
            job, _ = submit_job(store, settings, url, redis_url=redis_url)
        finally:
            store.close()
        assert [r["_id"] for r in web.repositories_named("ada/private")] == [repo]
        operator_job = _wait_final(web, job.id)
        assert operator_job["status"] == "completed", operator_job
        assert (operator_job["repositoryId"], operator_job["userId"]) == (repo, user)
        assert private_host.authorized >= 1  # with the user's token: no GIT_TOKEN reaches it
        latest = web.latest_by_name("ada/private")
        assert latest is not None
        assert latest["_id"] == job.id
        assert web.docs(job.id)

        regenerated = _wait_final(web, web.regenerate(user, repo, "ada/private"))
        assert regenerated["status"] == "completed", regenerated
        latest = web.latest_by_name("ada/private")
        assert latest is not None
        assert latest["_id"] == regenerated["_id"]
        assert web.docs(job.id) == []  # the older course went, as the Node worker did
        assert [r["_id"] for r in web.repositories_named("ada/private")] == [repo]


def test_a_web_job_whose_owner_has_no_token_fails_at_once_asking_to_reconnect(
    private_host: PrivateGitHost, tmp_path: Path, redis_url: str, convex_standin: StandIn
) -> None:
    private_host.publish(make_repo(tmp_path / "src"), "ada/private")
    with _web_stack(tmp_path, redis_url, convex_standin, private_host) as web:
        user = web.sign_in("ada", token=None)
        repo = web.add_repository(user, "ada/private", clone_url=private_host.url("ada/private"))
        job = _wait_final(web, web.regenerate(user, repo, "ada/private"))
    assert job["status"] == "failed"
    assert job["attempts"] == 1
    assert NOT_FOUND_MESSAGE in job["error"]
    # Neither the operator's token nor none at all was tried on the host.
    assert private_host.requests == []
