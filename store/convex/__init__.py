"""The Convex job store: ``JobStore`` over a Convex deployment's HTTP API, its calls
grouped one module per file of ``convex/functions/worker/``.

Each method is one call to a function in ``convex/functions/worker/`` (one serializable
transaction there). Calls carry the worker secret that the functions check against the
deployment's FONDATION_WORKER_SECRET; no admin or deploy key is needed.

Retries: a call whose answer was lost may still have run, so only calls that are safe to
repeat are retried (reads, writes fenced by a lease token, ``create_job`` with a dedupe
key, and a few writes that are idempotent by design). Any call is retried when the
request provably never reached the server (connection refused) or was rate limited.

The ``convex`` PyPI package is used here for its value encoding only: its ``ConvexClient``
holds the GIL while it waits and has no timeout (see docs/CONVEX.md). The bridge's query
subscription uses that client in a process of its own (store/convex/subscriber.py).
"""

from __future__ import annotations

from store.base import JobStore
from store.convex.credentials import CredentialCalls
from store.convex.jobs import ClientCalls
from store.convex.ops import OperatorCalls
from store.convex.leases import QueueCalls
from store.convex.reuse import ReuseCalls
from store.convex.steps import StepCalls
from store.convex.wire import ConvexFunctionError, decode_value

__all__ = ["ConvexFunctionError", "ConvexStore", "decode_value"]


class ConvexStore(
    ClientCalls, QueueCalls, StepCalls, OperatorCalls, CredentialCalls, ReuseCalls, JobStore
):
    """``JobStore`` on a Convex deployment (see ``ConvexCore`` for the wire)."""

    per_user_tokens = True
    reclaims_expired_leases = True
