"""The embedded job store: one SQLite file shared by the bridges and workers of a host.

Each method is one transaction. Writers take the write lock up front (BEGIN IMMEDIATE),
so two claimers serialise instead of failing half-way; WAL lets readers go on meanwhile.
A claim is a single UPDATE ... RETURNING, so no two callers can receive the same job.
The calls are grouped by who makes them, one module per file of convex/functions/worker/.
"""

from __future__ import annotations

from store.base import JobStore
from store.sqlite.credentials import CredentialCalls
from store.sqlite.jobs import ClientCalls
from store.sqlite.leases import QueueCalls
from store.sqlite.ops import OperatorCalls
from store.sqlite.reuse import ReuseCalls
from store.sqlite.steps import StepCalls

__all__ = ["SqliteStore"]


class SqliteStore(
    ClientCalls, QueueCalls, StepCalls, OperatorCalls, CredentialCalls, ReuseCalls, JobStore
):
    """``JobStore`` on a SQLite file. Safe across threads and processes."""

    per_user_tokens = False
