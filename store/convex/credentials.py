"""The clone's credentials, in convex/functions/worker/credentials.ts: the job owner's
GitHub token, decrypted by the worker."""

from __future__ import annotations


from store.convex.wire import ConvexCore


class CredentialCalls(ConvexCore):
    """A job owner's GitHub token, for its private clone."""

    def owner_github_token(self, job_id: str, token: str) -> str | None:
        value = self._query("worker/credentials:ownerGitHubToken", jobId=job_id, leaseToken=token)
        return None if value is None else str(value)
