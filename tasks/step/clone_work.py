"""The clone step's work: the repository's source, its credentials and the shallow
clone into the job's folder."""

from __future__ import annotations

from analysis.course.artifacts import CloneArtifact
from checkout.provider import CloneOptions
from checkout.repo_url import RepoSource, source_for_repository
from fondation.cancel import CancelToken
from fondation.errors import MalformedJob
from store.records import (
    RepositoryRecord,
    StepStart,
)
from tasks.step.step_base import StepBase


class CloneWork(StepBase):
    """Step 0: put the job's repository on disk."""

    @staticmethod
    def _repository(start: StepStart) -> RepositoryRecord:
        if start.repository is None:
            job = start.job
            raise MalformedJob(
                f"job {job.id} names repository {job.repository_id}, which does not exist"
            )
        return start.repository

    def _source(self, repo: RepositoryRecord) -> RepoSource:
        s = self.rt.settings
        return source_for_repository(
            repo.full_name,
            repo.clone_url,
            allowed_hosts=s.git_hosts,
            allow_local=s.allow_local_repos,
        )

    def _clone_options(self, source: RepoSource, cancel: CancelToken) -> CloneOptions:
        s = self.rt.settings
        return CloneOptions(
            depth=s.clone_depth,
            # A local repository (the embedded mode) is read from disk: no account's.
            token=self._git_token() if source.kind == "https" else None,
            cancel=cancel,
            timeout_s=s.step_soft_time_limit_s,
            max_bytes=s.max_repo_bytes,
            max_files=s.max_repo_files,
        )

    def _git_token(self) -> str | None:
        """The clone's token, read afresh for each clone and kept only in memory: the
        owner's own on a store with users (a missing or unreadable one fails the job
        with the web's "reconnect GitHub" message), GIT_TOKEN otherwise."""
        store = self.rt.store
        stored = None
        if store.per_user_tokens:
            stored = self._retry(
                lambda: store.owner_github_token(self.job_id, self.token), "owner_github_token"
            )
        return self.rt.credentials.for_clone(store.per_user_tokens, stored)

    def _clone(self, start: StepStart, cancel: CancelToken) -> CloneArtifact:
        repo = self._repository(start)
        source = self._source(repo)
        ref = start.job.ref or repo.default_branch or None
        # A clone interrupted by a crash left nothing usable: start from an empty folder.
        self.rt.workspace.remove(self.job_id)
        self.rt.workspace.claim(self.job_id)
        dest = self.rt.workspace.checkout_dir(self.job_id)
        options = self._clone_options(source, cancel)
        result = self.rt.engine.checkouts.clone(source, ref, dest, options)
        # Written with the step's result, in the same store call.
        self.finish_log = (
            f"Cloned {source.display} at {result.commit[:12]}"
            f" ({result.files} files, {result.bytes} bytes)"
        )
        return CloneArtifact(
            url=source.display,
            ref=ref,
            commit=result.commit,
            files=result.files,
            bytes=result.bytes,
        )
