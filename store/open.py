"""Open the job store the settings select."""

from __future__ import annotations

from fondation.settings import Settings
from store.base import JobStore


def open_store(settings: Settings) -> JobStore:
    if settings.store_kind == "convex":
        from store.convex import ConvexStore

        assert settings.convex_url is not None  # checked by Settings
        assert settings.convex_worker_secret is not None
        store: JobStore = ConvexStore(
            settings.convex_url,
            settings.convex_worker_secret.get_secret_value(),
            timeout_s=settings.convex_timeout_s,
            progress_language=settings.progress_language,
        )
        return store
    from store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path, progress_language=settings.progress_language)
