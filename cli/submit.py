"""Turning what a user typed (a path, "owner/repo" or a URL) into repository and job
records, refusing bad input before anything is stored."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from checkout.repo_url import validate_repo_url
from fondation.clock import now_ms
from fondation.errors import InvalidRepositoryURL
from fondation.redis_client import connect_redis
from fondation.settings import Settings
from fondation.wake import announce
from store.base import JobStore
from store.records import JobRecord, JobSpec, RepositorySpec

LOCAL_USER = "local"


def _local_branch(path: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(path), "symbolic-ref", "--short", "-q", "HEAD"],
        capture_output=True, text=True, check=False, timeout=10,
    )  # fmt: skip
    return out.stdout.strip()


def repository_spec(raw: str, settings: Settings, user_id: str = LOCAL_USER) -> RepositorySpec:
    """Raises ``InvalidRepositoryURL`` with the reason when the input is refused."""
    candidate = raw.strip()
    if "://" not in candidate and not Path(candidate).exists() and candidate.count("/") == 1:
        candidate = f"https://github.com/{candidate}"
    source = validate_repo_url(
        candidate, allowed_hosts=settings.git_hosts, allow_local=settings.allow_local_repos
    )
    if source.kind == "local":
        path = Path(source.url)
        return RepositorySpec(
            user_id=user_id, name=path.name, full_name=f"local/{path.name}",
            default_branch=_local_branch(path), clone_url=source.url,
        )  # fmt: skip
    parts = urlsplit(source.url)
    full_name = parts.path.strip("/").removesuffix(".git")
    if not full_name:
        raise InvalidRepositoryURL(
            f"repository URL refused: no repository path in {source.display}"
        )
    return RepositorySpec(
        user_id=user_id, name=full_name.rsplit("/", 1)[-1], full_name=full_name,
        default_branch="", clone_url=source.url,
    )  # fmt: skip


def submit_job(
    store: JobStore,
    settings: Settings,
    raw_repo: str,
    *,
    ref: str | None = None,
    prompt: str = "",
    fresh: bool = False,
    dedupe_key: str | None = None,
    redis_url: str | None = None,
) -> tuple[JobRecord, bool]:
    spec = repository_spec(raw_repo, settings)
    now = now_ms()
    repo = store.upsert_repository(spec, now)
    job, created = store.create_job(
        # The repository's owner: a web user's, when the repository is one of theirs.
        JobSpec(user_id=repo.user_id, repository_id=repo.id, prompt=prompt, ref=ref,
                dedupe_key=dedupe_key, fresh=fresh or None),
        now,
    )  # fmt: skip
    announce_url(redis_url, "job")
    return job, created


def announce_url(redis_url: str | None, reason: str) -> None:
    """Wake the bridges through ``redis_url`` if there is one."""
    if not redis_url:
        return
    client = connect_redis(redis_url, socket_timeout_s=2, socket_connect_timeout_s=2)
    try:
        announce(client, reason)
    finally:
        client.close()
