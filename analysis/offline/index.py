"""The parsed checkout: facts for every accepted source file, with a JSON cache.

Steps may run in different processes or on different machines, so each step rebuilds
the index; the cache in the job's work directory (keyed by each file's content hash)
makes that cheap, and an in-process memo avoids even reading the cache twice. A missing,
stale or corrupt cache only costs time: the index is rebuilt from the checkout.
"""

from __future__ import annotations

import gc
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from analysis.offline.files import (
    MANIFEST_BYTES,
    Candidate,
    content_problem,
    decode,
    discover,
    read_bytes,
)
from analysis.offline.languages import is_test_path
from analysis.offline.model import FileFacts
from analysis.offline.parsing import parse_source
from analysis.offline.shared_parse import load_pack, save_pack
from analysis.reuse import ReuseBook
from fondation.cancel import CancelToken
from fondation.errors import PermanentError

CACHE_NAME = "offline-index.json"
# 2: Go records local names, Reference.kind 'type'; 3: no overloads; 4: default_export,
# Python types in signatures
CACHE_VERSION = 4
# The reuse record key of the facts a repository's jobs share: a new cache version
# reads none of an older one's.
SHARED_KEY = f"offline-index-v{CACHE_VERSION}"


@dataclass(frozen=True)
class Limits:
    max_files: int = 5000
    max_file_bytes: int = 1_000_000
    max_total_bytes: int = 200_000_000


@dataclass
class Index:
    files: dict[str, FileFacts]  # sorted by path
    hashes: dict[str, str]
    skipped: dict[str, str]
    manifests: dict[str, str] = field(default_factory=dict)  # path -> text

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path, sha in self.hashes.items():
            digest.update(f"{path}\0{sha}\n".encode())
        for path, reason in sorted(self.skipped.items()):
            digest.update(f"{path}\0{reason}\n".encode())
        for path, text in sorted(self.manifests.items()):  # the README is read by steps too
            digest.update(f"{path}\0{text}\n".encode())
        return digest.hexdigest()


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sha1: str
    language: str
    facts: FileFacts


class _Cache(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    entries: dict[str, _Entry]


class FactsMemo:
    """Facts already parsed in this process, by content hash and language."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._facts: dict[tuple[str, str], FileFacts] = {}
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, sha1: str, language: str) -> FileFacts | None:
        with self._lock:
            return self._facts.get((sha1, language))

    def put(self, sha1: str, language: str, facts: FileFacts) -> None:
        with self._lock:
            if len(self._facts) >= self._capacity:
                self._facts.clear()  # crude, but a job never needs more than its files
            self._facts[(sha1, language)] = facts


def build_index(
    root: Path,
    work_dir: Path,
    limits: Limits,
    cancel: CancelToken,
    memo: FactsMemo,
    shared: ReuseBook | None = None,
) -> Index:
    """The index of ``root``. With ``shared`` (the job's reuse book), a job whose scratch
    folder has no cache yet starts from the facts the repository's previous job kept,
    and keeps its own for the next one (shared_parse.py)."""
    found = discover(root, limits.max_file_bytes, cancel)
    skipped = dict(found.skipped)
    cached = _load_cache(work_dir)
    seeded = not cached and shared is not None
    if seeded and shared is not None:
        cached = _parse_cache(load_pack(shared, SHARED_KEY))
    entries: dict[str, _Entry] = {}
    changed = False
    with _gc_paused():
        for candidate in _within_budget(found.candidates, limits, skipped):
            cancel.check()
            entry = _facts_for(root, candidate, cached.get(candidate.path), memo, skipped)
            if entry is not None:
                changed |= cached.get(candidate.path) is not entry
                entries[candidate.path] = entry
    changed |= set(cached) != set(entries)
    if changed or seeded:
        _save_cache(work_dir, entries)  # the job's later steps read it, not the store
    if changed and seeded and shared is not None:
        save_pack(shared, SHARED_KEY, _cache_json(entries))
    ordered = sorted(entries)
    return Index(
        files={p: entries[p].facts for p in ordered},
        hashes={p: entries[p].sha1 for p in ordered},
        skipped=dict(sorted(skipped.items())),
        manifests=_manifests(root, found.manifests),
    )


def _within_budget(
    candidates: list[Candidate], limits: Limits, skipped: dict[str, str]
) -> Iterator[Candidate]:
    """Keep the files a reader needs most when a limit cuts: code before tests, shallow
    before deep. The order is fixed so that the same checkout is always cut the same way."""
    files = 0
    total = 0
    for candidate in sorted(
        candidates, key=lambda c: (is_test_path(c.path), c.path.count("/"), c.path)
    ):
        if files >= limits.max_files:
            skipped[candidate.path] = f"over the limit of {limits.max_files} files"
        elif total + candidate.size > limits.max_total_bytes:
            skipped[candidate.path] = f"over the total limit of {limits.max_total_bytes} bytes"
        else:
            files += 1
            total += candidate.size
            yield candidate


def _facts_for(
    root: Path,
    candidate: Candidate,
    cached: _Entry | None,
    memo: FactsMemo,
    skipped: dict[str, str],
) -> _Entry | None:
    try:
        data = read_bytes(root, candidate.path)
    except (OSError, PermanentError) as exc:
        # Replaced by a link or a device since discovery, or unreadable: say so, go on.
        skipped[candidate.path] = f"unreadable ({type(exc).__name__})"
        return None
    problem = content_problem(candidate.path, data)
    if problem:
        skipped[candidate.path] = problem
        return None
    sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    if cached is not None and cached.sha1 == sha1 and cached.language == candidate.language:
        return cached
    facts = memo.get(sha1, candidate.language)
    if facts is None:
        facts = parse_source(decode(data), candidate.language)
        memo.put(sha1, candidate.language, facts)
    return _Entry(sha1=sha1, language=candidate.language, facts=facts)


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Parsing allocates millions of small objects that all survive; the cyclic
    # collector would rescan them again and again for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_cache(work_dir: Path) -> dict[str, _Entry]:
    try:
        return _parse_cache((work_dir / CACHE_NAME).read_bytes())
    except OSError:
        return {}


def _parse_cache(data: bytes | None) -> dict[str, _Entry]:
    if data is None:
        return {}
    try:
        cache = _Cache.model_validate_json(data)
    except (ValidationError, ValueError):
        return {}
    return cache.entries if cache.version == CACHE_VERSION else {}


def _cache_json(entries: dict[str, _Entry]) -> bytes:
    payload = _Cache(version=CACHE_VERSION, entries=dict(sorted(entries.items())))
    return payload.model_dump_json(exclude_defaults=True).encode("utf-8")


def _save_cache(work_dir: Path, entries: dict[str, _Entry]) -> None:
    """Write atomically so that a crash mid-write leaves the old cache or none."""
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        tmp = work_dir / f".{CACHE_NAME}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_bytes(_cache_json(entries))
        os.replace(tmp, work_dir / CACHE_NAME)
    except OSError:
        return  # the cache is an optimisation; the step's result does not depend on it


def _manifests(root: Path, paths: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for rel in paths:
        try:
            out[rel] = decode(read_bytes(root, rel, limit=MANIFEST_BYTES))
        except (OSError, PermanentError):
            continue
    return out
