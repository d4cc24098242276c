"""What one CLI call looked at, read off its transcript.

With ``--output-format stream-json --verbose`` the CLI (2.1.332, probed against the
scripted API: docs/CLAUDE.md, "The transcript") prints one JSON object a line: a
``system`` ``init`` event, then each ``assistant`` message block as its own event (a
``tool_use`` block carries ``name`` and ``input``), each tool's answer as a ``user``
event, and last the ``result`` event, which holds exactly what ``--output-format json``
printed. A Read's input is ``file_path`` (absolute, or relative to the checkout); a
Grep's or Glob's is ``path``, the checkout when absent.

A call's reads are what its answer may depend on besides its prompt: files (Read) and
folders searched (Grep, Glob). Anything else the model used (another tool, a path
outside the checkout) makes the reads unprovable, and the answer is never reused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkout.tree_ids import relative_inside

# The tools whose inputs name what they read, and the input key that names it.
_READS = {"Read": ("file", "file_path"), "Grep": ("scope", "path"), "Glob": ("scope", "path")}
# Tools that read nothing of the checkout.
_NO_READS = frozenset({"StructuredOutput"})


@dataclass(frozen=True)
class CallReads:
    """The checkout paths one or more calls read: ``files`` by Read, ``scopes`` searched
    by Grep or Glob (a folder, the root ``""``, or a single file); ``unprovable`` says
    why some read cannot be compared later (empty when all can)."""

    files: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    unprovable: tuple[str, ...] = field(default=())

    def __or__(self, other: CallReads) -> CallReads:
        return CallReads(
            self.files | other.files,
            self.scopes | other.scopes,
            self.unprovable + other.unprovable,
        )


def split_events(stdout: bytes) -> list[dict[str, Any]]:
    """The transcript's events; a line that is not a JSON object is skipped."""
    events: list[dict[str, Any]] = []
    for raw in stdout.decode("utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def result_document(text: str) -> object:
    """The printed output as ``json.loads`` would give it, for one JSON document (the
    ``json`` format, a list with ``--verbose``) or a transcript (``stream-json``: the
    list of its events, the ``result`` event last)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        events = split_events(text.encode("utf-8"))
        if not events:
            raise
        return events


def tool_uses(events: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(name, input) of every tool_use block of the assistant events, in order."""
    uses: list[tuple[str, dict[str, Any]]] = []
    for event in events:
        if event.get("type") != "assistant":
            continue
        content = (event.get("message") or {}).get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                raw = block.get("input")
                uses.append((str(block.get("name")), raw if isinstance(raw, dict) else {}))
    return uses


def read_transcript(stdout: bytes, checkout: Path) -> CallReads:
    """What the call's tools read. Output that is not a transcript (no events, or only
    the ``json`` format's single object) proves nothing about reads: unprovable."""
    events = split_events(stdout)
    if not any(e.get("type") == "system" for e in events):
        return CallReads(unprovable=("no transcript",))
    files: set[str] = set()
    scopes: set[str] = set()
    unprovable: list[str] = []
    for name, tool_input in tool_uses(events):
        if name in _NO_READS:
            continue
        if name not in _READS:
            unprovable.append(f"tool {name}")
            continue
        kind, key = _READS[name]
        raw = tool_input.get(key)
        if kind == "file" and not isinstance(raw, str):
            unprovable.append(f"{name} without a path")
            continue
        where = relative_inside(checkout, raw if isinstance(raw, str) and raw else ".")
        if where is None:
            unprovable.append(f"{name} outside the checkout")
        elif kind == "file":
            files.add(where)
        else:
            scopes.add(where)
    return CallReads(frozenset(files), frozenset(scopes), tuple(unprovable))


def without_tool_results(stdout: bytes) -> bytes:
    """The transcript as it is kept on disk: without the ``user`` events, which carry
    every file the model read (twice: the tool_result and its structured copy). What is
    left still gives the result and the reads, so a kept output replays the same."""
    if b"\n" not in stdout.strip():
        return stdout  # one JSON document (the json format), or not a transcript
    return b"".join(line for line in stdout.splitlines(keepends=True) if not _is_user(line))


def _is_user(line: bytes) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return False
    return isinstance(event, dict) and event.get("type") == "user"
