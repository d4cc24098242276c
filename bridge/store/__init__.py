"""Job stores: one interface (``JobStore``), one implementation per database."""

from bridge.store.base import JobStore
from bridge.store.records import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    STEP_NAMES,
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
    "STEP_NAMES",
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
