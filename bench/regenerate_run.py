"""Regenerates on real history: idna 3.6, 3.7 and 3.8 (a package none of us wrote),
its released sources committed one after the other, analysed by a bridge and a worker
on the real Claude Code CLI against the scripted API, one job per commit.

The scripted model reads what a real one would: every call opens the package's entry
point (idna/__init__.py) first; the abstractions call searches the whole tree and reads
every module; the relationships call greps the package for imports; each chapter and
its review read their abstraction's files; the tutorials read the core. Its answers
are fixed where the structure does not change (the abstractions, relationships and
order, as a model keeping what still holds would give them) and depend on what was
read where the text would (a chapter, its review, the tutorials quote the files).

The commits, in order: 3.6; 3.6 again; 3.7 (core.py, idnadata.py and the version file
package_data.py changed: two chapters' files); 3.8 (core.py and the version file: one
chapter's files); then an edit of idna/__init__.py, which every call read.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.course.usage import total_usage
from bench.stack import Stack
from testbed.claude_api.cli import CLAUDE_BIN, FAKE_API_KEY
from testbed.claude_api.scenarios import reading_first
from testbed.claude_api.server import Failure, Reply, Request, ScriptedApi, ToolUse, answer
from testbed.gitrepo import git

VERSIONS = ("3.6", "3.7", "3.8")
WHEELS = Path(".fondation/bench-idna")
ENTRY = "idna/__init__.py"
# The eight abstractions (one chapter each) and the files each is about.
PARTS: dict[str, tuple[str, list[str]]] = {
    "api": ("The public API", ["idna/__init__.py"]),
    "core": ("Encoding and decoding labels", ["idna/core.py"]),
    "codec": ("The idna codec", ["idna/codec.py"]),
    "incremental": ("Incremental encoders and decoders", ["idna/codec.py"]),
    "compat": ("The compatibility layer", ["idna/compat.py"]),
    "idnadata": ("The IDNA code point tables", ["idna/idnadata.py"]),
    "intranges": ("Ranges of integers", ["idna/intranges.py"]),
    "uts46": ("The UTS #46 mapping", ["idna/uts46data.py"]),
}
MODULES = sorted({f for _, files in PARTS.values() for f in files} | {"idna/package_data.py"})


def wheels() -> list[Path]:
    """The three released wheels, downloaded once into .fondation/ with pip."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    out = []
    for v in VERSIONS:
        found = sorted(WHEELS.glob(f"idna-{v}-*.whl"))
        if not found:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                 "--only-binary=:all:", f"idna=={v}", "-d", str(WHEELS)],
                check=True,
            )  # fmt: skip
            found = sorted(WHEELS.glob(f"idna-{v}-*.whl"))
        out.append(found[0])
    return out


def commit_version(repo: Path, wheel: Path, version: str) -> None:
    """The wheel's package folder as the repository's next commit."""
    shutil.rmtree(repo / "idna", ignore_errors=True)
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith("idna/"):
                z.extract(name, repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"idna {version}")


def _read(*paths: str) -> tuple[ToolUse, ...]:
    return tuple(ToolUse("Read", {"file_path": p}) for p in paths)


def reads(req: Request) -> tuple[ToolUse, ...]:
    title = req.schema_title
    if title == "AbstractionsArtifact":
        return (ToolUse("Glob", {"pattern": "**/*.py"}), *_read(*MODULES))
    if title == "RelationshipsArtifact":
        return (*_read(ENTRY), ToolUse("Grep", {"pattern": "^(from|import) ", "path": "idna"}))
    if title == "TutorialsArtifact":
        return _read(ENTRY, "idna/core.py")
    if title in ("ChapterDraft", "ChapterReview"):
        return _read(ENTRY, *PARTS[_target(req)][1])
    return _read(ENTRY)


def _target(req: Request) -> str:
    return next(p for p in PARTS if f"Target abstraction: `{p}`" in req.prompt)


def _call_name(req: Request) -> str:
    title = req.schema_title
    if title in ("ChapterDraft", "ChapterReview"):
        return f"{'chapter' if title == 'ChapterDraft' else 'review'} {_target(req)}"
    return title.removesuffix("Artifact").lower()


def _seen(req: Request) -> str:
    """A digest of what the call's tools returned: text that changes with the files."""
    text = "".join(str(r.get("content")) for r in req.tool_results())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _cite(path: str) -> list[dict[str, Any]]:
    return [{"path": path, "start_line": 1, "end_line": 1}]


def answers(req: Request) -> Reply | Failure:
    title = req.schema_title
    if title == "AbstractionsArtifact":
        parts = [
            {"id": pid, "name": name, "files": files, "symbols": [],
             "summary": f"{name} of idna. It is one part of how the package turns Unicode"
                        " domain names into ASCII and back.",
             "citations": _cite(files[0])}
            for pid, (name, files) in PARTS.items()
        ]  # fmt: skip
        summary = "Internationalized domain names in applications (IDNA)."
        return answer({"project_name": "idna", "abstractions": parts, "summary": summary})
    if title == "RelationshipsArtifact":
        edges = [{"source": p, "target": "core", "label": "calls",
                  "citations": _cite(PARTS[p][1][0])} for p in PARTS if p != "core"]  # fmt: skip
        return answer({"summary": "Everything goes through core.", "relationships": edges})
    if title == "OrderArtifact":
        return answer({"order": list(PARTS), "rationale": "From the entry point inward."})
    if title in ("ChapterDraft", "ChapterReview"):
        pid = _target(req)
        name, files = PARTS[pid]
        body = (f"# {name}\n\nWritten from {', '.join(files)} (as read: {_seen(req)}).\n\n"
                "The functions here are described line by line in the course.\n")  # fmt: skip
        out: dict[str, Any] = {"title": name, "content": body, "citations": _cite(files[0])}
        if title == "ChapterReview":
            out["findings"] = []
        return answer(out)
    if title == "TutorialsArtifact":
        content = (f"## Exercise\n\nEncode a label with `idna.encode`.\n\n## Answer\n\n"
                   f"See core ({_seen(req)}).\n")  # fmt: skip
        return answer({"tutorials": [{"index": 1, "slug": "encode", "title": "Encode a label",
                                      "content": content, "files": ["idna/core.py"]}]})  # fmt: skip
    return Failure(400, "invalid_request_error", f"no answer for {title!r}")


@dataclass
class JobFigures:
    label: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    took_s: float
    docs: dict[str, str]
    asked: list[str]  # the calls made: "abstractions", "chapter core", ...


def run() -> list[JobFigures]:
    """The five jobs; their calls, tokens and docs."""
    found = wheels()
    with (
        ScriptedApi(reading_first(answers, reads)) as api,
        Stack(
            "regenerate",
            ANALYSIS_ENGINE="claude",
            CLAUDE_BIN=str(CLAUDE_BIN),
            ANTHROPIC_API_KEY=FAKE_API_KEY,
            ANTHROPIC_BASE_URL=api.url,
            CLAUDE_TIMEOUT_S="120",
        ) as stack,
    ):
        repo = Path(tempfile.mkdtemp(prefix="fondation-bench-idna-")) / "idna"
        repo.mkdir()
        git(repo, "init", "-q")
        stack.repo = repo
        stack.worker()
        stack.bridge()
        stack.wait_ready()
        figures = []

        def job(label: str) -> None:
            before = len(api.messages())
            started = time.monotonic()
            job_id = stack.submit()
            stack.wait_done([job_id], timeout_s=600)
            took = time.monotonic() - started
            usage = total_usage(stack.store.get_steps(job_id))
            # A call is its first request with the answer's tool; the CLI also sends a
            # tool-less request of its own with a large file the model read.
            firsts = [r for r in api.messages()[before:] if r.turn == 0 and r.schema_title]
            asked = [_call_name(r) for r in firsts]
            docs = {d.slug: d.content for d in stack.store.get_docs(job_id)}
            figures.append(
                JobFigures(label, len(asked), int(usage.get("input_tokens", 0)),
                           int(usage.get("output_tokens", 0)), float(usage.get("cost_usd", 0.0)),
                           took, docs, asked)
            )  # fmt: skip

        commit_version(repo, found[0], VERSIONS[0])
        job("idna 3.6")
        job("idna 3.6 again")
        commit_version(repo, found[1], VERSIONS[1])
        job("idna 3.7")
        commit_version(repo, found[2], VERSIONS[2])
        job("idna 3.8")
        entry = repo / ENTRY
        entry.write_text(entry.read_text() + "\n# The names above are the package's API.\n")
        git(repo, "commit", "-qam", "a comment in idna/__init__.py")
        job("idna 3.8 + edit of __init__.py")
    return figures
