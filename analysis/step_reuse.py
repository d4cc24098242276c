"""Whole steps reused on the same tree: when a new job's checkout has the same git tree
as an earlier job of the repository, and the engine, the requester's instructions and
every earlier artifact are the same too, the step's artifact is the earlier one's. No
engine work at all: a regenerate of an unchanged repository stores its course again in
seconds.

The key holds all a deterministic step depends on (the engine and its release, the
tree, what the requester asked, what earlier steps produced); a Claude answer is not
deterministic, but the rule is the per-call one taken whole (answers.py): the same
question on unchanged inputs, as every input is in the tree.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from typing import Any

from pydantic import BaseModel, ValidationError

from analysis.course.artifacts import STEP_ARTIFACTS, Artifact
from analysis.reuse import ReuseBook
from store.records import ReuseKind

_KIND: ReuseKind = "step"


class KeptStep(BaseModel):
    artifact: str  # the artifact's JSON, as the step stored it
    usage: dict[str, Any] = {}  # what the engine spent on it then


def step_key(
    engine: str, step: int, tree: str, instructions: str, earlier: dict[int, Artifact]
) -> str:
    h = hashlib.sha256()
    parts = [engine, _release(), str(step), tree, instructions]
    parts += [earlier[n].model_dump_json() for n in sorted(earlier) if 1 <= n < step]
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def reuse_step(book: ReuseBook, step: int, key: str) -> tuple[Artifact, dict[str, Any]] | None:
    """The kept artifact of ``key`` and what it cost then, or None."""
    if book.fresh:
        return None
    for work in book.find(_KIND, _record_key(step)):
        if work.variant != key:
            continue
        try:
            kept = KeptStep.model_validate_json(work.value)
            return STEP_ARTIFACTS[step].model_validate_json(kept.artifact), kept.usage
        except (ValidationError, ValueError):
            continue
    return None


def keep_step(
    book: ReuseBook, step: int, key: str, artifact: Artifact, usage: dict[str, Any] | None
) -> None:
    value = KeptStep(artifact=artifact.model_dump_json(), usage=usage or {})
    book.keep(_KIND, _record_key(step), key, value.model_dump_json())


def _record_key(step: int) -> str:
    # One record key per step, the step's key its variant: the store keeps a step's few
    # newest trees and drops older ones, so the records of a repository stay bounded.
    return f"step-{step}"


def saved_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """The usage a reused step records: nothing spent, what the kept one spent saved."""
    calls = usage.get("calls", 0) + usage.get("saved_calls", 0)
    cost = usage.get("cost_usd", 0.0) + usage.get("saved_cost_usd", 0.0)
    out: dict[str, Any] = {"calls": 0, "reused_steps": 1}
    if calls or cost:
        out |= {"saved_calls": calls, "saved_cost_usd": round(cost, 6)}
    for tokens in ("input_tokens", "output_tokens"):
        if tokens in usage or f"saved_{tokens}" in usage:
            out[f"saved_{tokens}"] = usage.get(tokens, 0) + usage.get(f"saved_{tokens}", 0)
    return out


def _release() -> str:
    # A new release may analyse differently: its steps are not taken from an older one.
    try:
        return metadata.version("fondation-worker")
    except metadata.PackageNotFoundError:
        return "unknown"
