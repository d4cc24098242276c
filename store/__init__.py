"""The job store: one interface (``JobStore``), one implementation per database (SQLite,
Convex), used by the bridge's lease loop and by every worker step."""

from store.base import JobStore
from store.records import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    Claim,
    DocRecord,
    DocSpec,
    JobLogRecord,
    JobRecord,
    JobSpec,
    LeaseState,
    RepositoryRecord,
    RepositorySpec,
    StepRecord,
)

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "Claim",
    "DocRecord",
    "DocSpec",
    "JobLogRecord",
    "JobRecord",
    "JobSpec",
    "JobStore",
    "LeaseState",
    "RepositoryRecord",
    "RepositorySpec",
    "StepRecord",
]
