"""The course as docs: an index (toc), the chapters, the tutorials and, as references, the
course's structure (abstractions, relationships, order) as yaml. The same list is stored
in the job store and written by ``fondation export``.

The docs are shaped for the web app's course page, which lists them by kind, hides a
second doc of the same title and kind, opens them by client state (no URL per doc) and
stores each in a Convex document of at most 1 MiB: every doc is normalised Markdown with
no relative links, titles are unique per kind, and a doc too large for one document is
cut into parts. The file export puts the index's links back, since files have paths.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from analysis.course import markdown
from analysis.course.artifacts import (
    AbstractionsArtifact,
    Artifact,
    RelationshipsArtifact,
    ReviewArtifact,
    TutorialsArtifact,
)
from fondation.errors import StepValidationError
from store.records import DocRecord, DocSpec

_MERMAID_ID = re.compile(r"[^A-Za-z0-9_]")
# libyaml's safe dumper when PyYAML was built with it: the same output, many times faster.
_YAML_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# The references the course page lists: the course's structure, small. The chapters'
# and tutorials' artifacts are their text again, and the clone's is an operator's detail.
REFERENCE_STEPS = {1: "abstractions", 2: "relationships", 3: "order"}
# "3. Title" in the index: an entry the file export links to its file.
_ENTRY = re.compile(r"^(\d+)\. (.+)$")
# The kinds whose content is what a reader came for: never stored empty.
_READ_KINDS = ("chapter", "tutorial")


class EmptyDoc(StepValidationError):
    """A chapter or tutorial with nothing under its title. The engines' checks refuse such
    an answer before it is stored as a step's artifact; this is the last fence."""


def chapter_slug(index: int, slug: str) -> str:
    return f"{index:02d}-{slug}"


def tutorial_slug(index: int, slug: str) -> str:
    return f"tutorial-{index:02d}-{slug}"


def _overview_mermaid(abstractions: AbstractionsArtifact, rels: RelationshipsArtifact) -> str:
    lines = ["```mermaid", "graph LR"]
    for a in abstractions.abstractions:
        label = a.name.replace('"', "'")
        lines.append(f'    {_MERMAID_ID.sub("_", a.id)}["{label}"]')
    for r in rels.relationships:
        label = r.label.replace('"', "'").replace("|", "/")
        src, dst = _MERMAID_ID.sub("_", r.source), _MERMAID_ID.sub("_", r.target)
        lines.append(f'    {src} -->|"{label}"| {dst}')
    lines.append("```")
    return "\n".join(lines)


def build_toc(
    abstractions: AbstractionsArtifact,
    rels: RelationshipsArtifact,
    review: ReviewArtifact,
    tutorials: TutorialsArtifact,
) -> DocSpec:
    parts = [
        f"# {abstractions.project_name}",
        "",
        abstractions.summary,
        "",
        "## How the parts fit together",
        "",
        rels.summary,
        "",
        _overview_mermaid(abstractions, rels),
        "",
        "## Chapters",
        "",
    ]
    parts += [f"{ch.index}. {ch.title}" for ch in review.chapters]
    if tutorials.tutorials:
        parts += ["", "## Tutorials", ""]
        parts += [f"{t.index}. {t.title}" for t in tutorials.tutorials]
    return DocSpec(
        slug="index",
        title=abstractions.project_name,
        chapter_index=0,
        kind="toc",
        content="\n".join(parts) + "\n",
    )


def build_docs(artifacts: dict[int, Artifact]) -> list[DocSpec]:
    """All docs of a finished run, from the step artifacts (steps 1-6), shaped for the
    course page. Pure: the same artifacts give the same docs, so a finalize that runs
    twice upserts the same list. Raises ``EmptyDoc`` (permanent) rather than return a
    chapter or tutorial with nothing under its title."""
    abstractions = artifacts[1]
    rels = artifacts[2]
    review = artifacts[5]
    tutorials = artifacts[6]
    assert isinstance(abstractions, AbstractionsArtifact)
    assert isinstance(rels, RelationshipsArtifact)
    assert isinstance(review, ReviewArtifact)
    assert isinstance(tutorials, TutorialsArtifact)
    docs = [build_toc(abstractions, rels, review, tutorials)]
    docs += [
        DocSpec(
            slug=chapter_slug(ch.index, ch.slug),
            title=ch.title,
            chapter_index=ch.index,
            kind="chapter",
            content=ch.content,
        )
        for ch in review.chapters
    ]
    docs += [
        DocSpec(
            slug=tutorial_slug(t.index, t.slug),
            title=t.title,
            chapter_index=t.index,
            kind="tutorial",
            content=t.content,
        )
        for t in tutorials.tutorials
    ]
    for step, name in REFERENCE_STEPS.items():
        if step not in artifacts:
            continue
        content = yaml.dump(
            # The files skipped and why are an operator's detail, and grow with the repo.
            artifacts[step].model_dump(mode="json", exclude={"skipped"}),
            Dumper=_YAML_DUMPER,
            sort_keys=False,
            allow_unicode=True,
        )
        docs.append(
            DocSpec(
                slug=f"artifact-{step}-{name}",
                title=name.capitalize(),
                chapter_index=step,
                kind="yaml",
                content=content,
            )
        )
    return _for_the_course_page(docs)


def _for_the_course_page(docs: list[DocSpec]) -> list[DocSpec]:
    """Normalised, unlinked, unique titles per kind, each doc within one store document."""
    shaped: list[DocSpec] = []
    titles: set[tuple[str, str]] = set()
    for doc in docs:
        content = doc.content
        if doc.kind != "yaml":
            content = markdown.course_body(content)
        if doc.kind in _READ_KINDS and not content.strip():
            raise EmptyDoc(
                f"{doc.kind} {doc.slug!r} ({doc.title!r}) has no content under its title"
            )
        title = _unique(doc.title.strip(), doc.kind, titles)
        pieces = markdown.split(content)
        if len(pieces) == 1:
            shaped.append(doc.model_copy(update={"title": title, "content": content}))
            continue
        for k, piece in enumerate(pieces, start=1):
            part = _unique(f"{title} (part {k} of {len(pieces)})", doc.kind, titles)
            update = {"slug": f"{doc.slug}-part-{k}", "title": part, "content": piece}
            shaped.append(doc.model_copy(update=update))
    return shaped


def _unique(title: str, kind: str, seen: set[tuple[str, str]]) -> str:
    """``title``, or ``title (2)``, ``(3)``... when the kind already has it: the course
    page shows only the first doc of each title and kind."""
    candidate, n = title, 1
    # The page compares titles trimmed and without case.
    while (kind, candidate.strip().lower()) in seen:
        n += 1
        candidate = f"{title} ({n})"
    seen.add((kind, candidate.strip().lower()))
    return candidate


def doc_filename(doc: DocSpec | DocRecord) -> str:
    if doc.kind == "toc":
        return "index.md"
    if doc.kind == "yaml":
        return f"artifacts/{doc.slug}.yaml"
    return f"{doc.slug}.md"


def write_docs(docs: Sequence[DocSpec | DocRecord], out_dir: Path) -> list[Path]:
    """Write docs as files under ``out_dir``; returns the paths written. Each Markdown
    file starts with its title as a heading, and the index's entries link to their
    files again."""
    files = {
        (doc.chapter_index, doc.title): doc_filename(doc)
        for doc in docs
        if doc.kind in ("chapter", "tutorial")
    }
    written = []
    for doc in docs:
        path = out_dir / doc_filename(doc)
        path.parent.mkdir(parents=True, exist_ok=True)
        content = doc.content
        if doc.kind == "toc":
            content = _link_entries(content, files)
        if doc.kind != "yaml":
            content = f"# {doc.title}\n\n{content}"
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def _link_entries(toc: str, files: dict[tuple[int, str], str]) -> str:
    lines = toc.split("\n")
    for i, line in enumerate(lines):
        match = _ENTRY.match(line)
        if match is None:
            continue
        target = files.get((int(match.group(1)), match.group(2)))
        if target is not None:
            lines[i] = f"{match.group(1)}. [{match.group(2)}]({target})"
    return "\n".join(lines)
