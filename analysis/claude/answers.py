"""The per-call reuse rule: an answer of an earlier job of the same repository is taken
instead of asking again when its question is the same and everything it read is
unchanged (docs/CLAUDE.md, "Reusing answers").

- The question is the prompt, the schema and the model, hashed: any change in what the
  call is told (an earlier step's answer, the requester's instructions, the language)
  makes another question.
- What it read comes from the CLI's transcript (transcript.py): a file read is that
  file's blob id, a Grep or Glob scope is the tree id of the folder searched (any file
  added, removed or changed below it changes it), a path that did not exist is
  "absent", and stays so only while it and every folder above it are still absent or
  plain folders.
- Anything that cannot be compared (a tool other than Read, Grep and Glob, a path
  outside the checkout, through a symlink or a submodule, a checkout git cannot read)
  makes the answer never reused. So an answer is reused only when no input it is known
  to have, and none it could have had, has changed.

A reused answer is checked again against the checkout, as a fresh one is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from analysis.claude.records import CallRecord, append_record, read_records
from analysis.claude.settings import StepName
from analysis.claude.transcript import CallReads
from analysis.engine import StepContext
from checkout.tree_ids import TreeIds
from store.records import ReuseKind

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
_KIND: ReuseKind = "answer"
_ABSENT = "absent"
_NAMED_CHANGES = 3


@dataclass(frozen=True)
class Question:
    step: StepName
    key: str  # the call: "abstractions", "chapter-03-cart"
    digest: str  # prompt, schema and model, hashed

    @classmethod
    def of(
        cls, step: StepName, key: str, prompt: str, schema: dict[str, Any], model: str | None
    ) -> Question:
        h = hashlib.sha256()
        for part in (prompt, json.dumps(schema, sort_keys=True), model or ""):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        return cls(step, key, h.hexdigest())


class KeptAnswer(BaseModel):
    """One reuse record of an answer: the value the store keeps, as JSON."""

    question: str
    inputs: dict[str, str]  # "file:<path>" or "scope:<path>" -> git id or "absent"
    answer: dict[str, Any]
    commit: str = ""  # the commit the answer was given at
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0


def fingerprint(reads: CallReads, tree: TreeIds, checkout: Path) -> dict[str, str] | None:
    """The git id of every input, or None when one cannot be compared."""
    if reads.unprovable:
        return None
    out: dict[str, str] = {}
    for kind, paths in (("file", reads.files), ("scope", reads.scopes)):
        for path in sorted(paths):
            oid = current_id(kind, path, tree, checkout)
            if oid is None:
                return None
            out[f"{kind}:{path}"] = oid
    return out


def current_id(kind: str, path: str, tree: TreeIds, checkout: Path) -> str | None:
    if path == "":
        return f"tree:{tree.root}"
    if path in tree.blobs:
        return f"blob:{tree.blobs[path]}"
    if path in tree.trees:
        return f"tree:{tree.trees[path]}"
    return _ABSENT if _provably_absent(path, tree, checkout) else None


def _provably_absent(path: str, tree: TreeIds, checkout: Path) -> bool:
    parts = path.split("/")
    if parts[0] == ".git":
        return False  # the clone's own files: on disk, in no tree
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        if prefix in tree.opaque or (i < len(parts) and prefix in tree.blobs):
            return False
    return not os.path.lexists(checkout / path)


def reuse(ctx: StepContext, asked: Question, model: type[M]) -> M | None:
    """The kept answer to ``asked`` whose inputs are unchanged, or None (then the job
    log says why the call is made again, when an earlier answer existed)."""
    book = ctx.reuse
    if book is None or book.fresh:
        return None
    kept = [_parse(w.value) for w in book.find(_KIND, asked.key)]
    records = [k for k in kept if k is not None]
    if not records:
        return None
    tree = book.tree()
    same = [r for r in records if r.question == asked.digest]
    if tree is None:
        book.note(f"{asked.key}: asked again, the checkout's files cannot be compared")
        return None
    if not same:
        book.note(f"{asked.key}: asked again, its prompt changed (an earlier answer changed)")
        return None
    changes: list[str] = []
    for record in same:
        changed = _changed(record.inputs, tree, ctx.checkout)
        if not changed:
            try:
                value = model.model_validate(record.answer)
            except ValidationError:
                continue
            _count_reused(ctx, asked, record)
            return value
        changes = changes or changed
    named = ", ".join(changes[:_NAMED_CHANGES])
    more = f" and {len(changes) - _NAMED_CHANGES} more" if len(changes) > _NAMED_CHANGES else ""
    book.note(f"{asked.key}: asked again, {named}{more} changed")
    return None


def keep(ctx: StepContext, asked: Question, reads: CallReads, value: BaseModel) -> None:
    """Keep a valid answer for later jobs, when every input it read can be compared."""
    book = ctx.reuse
    if book is None:
        return
    tree = book.tree()
    inputs = None if tree is None else fingerprint(reads, tree, ctx.checkout)
    if inputs is None:
        why = ", ".join(reads.unprovable[:_NAMED_CHANGES]) or "the checkout's ids are unknown"
        log.info("%s: answer not kept for reuse (%s)", asked.key, why)
        return
    spent = [r for r in read_records(ctx.work_dir) if r.call == asked.key and r.subtype != "reused"]
    record = KeptAnswer(
        question=asked.digest,
        inputs=inputs,
        answer=value.model_dump(mode="json"),
        commit=tree.commit if tree is not None else "",
        cost_usd=round(sum(r.total_cost_usd for r in spent), 6),
        input_tokens=sum(_int(r.usage.get("input_tokens")) for r in spent),
        output_tokens=sum(_int(r.usage.get("output_tokens")) for r in spent),
        calls=len(spent),
    )
    variant = hashlib.sha256(
        (asked.digest + json.dumps(inputs, sort_keys=True)).encode("utf-8")
    ).hexdigest()[:32]
    book.keep(_KIND, asked.key, variant, record.model_dump_json())


def _split(name: str) -> tuple[str, str]:
    kind, _, path = name.partition(":")
    return kind, path


def _changed(inputs: dict[str, str], tree: TreeIds, checkout: Path) -> list[str]:
    out = []
    for name, oid in inputs.items():
        kind, path = _split(name)
        if current_id(kind, path, tree, checkout) != oid:
            out.append(path or "the repository's root folder")
    return out


def _count_reused(ctx: StepContext, asked: Question, record: KeptAnswer) -> None:
    """A call record for the call not made: no cost now, what the first one cost saved."""
    append_record(
        ctx.work_dir,
        CallRecord(
            step=asked.step,
            call=asked.key,
            attempt=0,
            subtype="reused",
            is_error=False,
            reused=True,
            saved_cost_usd=record.cost_usd,
            saved_calls=record.calls,
            saved_input_tokens=record.input_tokens,
            saved_output_tokens=record.output_tokens,
        ),
    )


def _parse(value: str) -> KeptAnswer | None:
    try:
        return KeptAnswer.model_validate_json(value)
    except ValidationError:
        return None


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


@dataclass(frozen=True)
class Previous:
    """The newest kept answer of a call whatever its question, and what changed since."""

    answer: dict[str, Any]
    commit: str
    changed_files: list[str]  # files it read that changed (or went)
    changed_folders: list[str]  # folders it searched where something changed ("": all)


def previous(ctx: StepContext, key: str) -> Previous | None:
    """For a call asked again: the answer it gave last time and which of its inputs
    changed since, or None (no book, a fresh job, nothing kept, ids unreadable)."""
    book = ctx.reuse
    if book is None or book.fresh:
        return None
    tree = book.tree()
    if tree is None:
        return None
    for work in book.find(_KIND, key):
        record = _parse(work.value)
        if record is None:
            continue
        changed = [
            name.partition(":")
            for name, oid in record.inputs.items()
            if current_id(*_split(name), tree, ctx.checkout) != oid
        ]
        files = sorted(path for kind, _, path in changed if kind == "file")
        folders = sorted(path for kind, _, path in changed if kind == "scope")
        return Previous(record.answer, record.commit, files, folders)
    return None
