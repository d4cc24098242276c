"""The clone's credentials (convex/functions/worker/credentials.ts): none on SQLite,
whose store has no users."""

from __future__ import annotations

from store.sqlite.core import SqliteCore


class CredentialCalls(SqliteCore):
    """A job owner's GitHub token, for its private clone."""

    def owner_github_token(self, job_id: str, token: str) -> str | None:
        """None: the embedded store has no users; the clone uses GIT_TOKEN. Fenced, as
        on Convex, so a stale holder learns it lost the job here too."""
        with self._write() as db:
            self._fenced(db, job_id, token)
        return None
