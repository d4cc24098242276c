"""The course as docs: an index (toc), the chapters, the tutorials and the step artifacts
as yaml. The same list is stored in the job store and written by ``fondation export``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from bridge.store.records import DocRecord, DocSpec
from tasks.artifacts import (
    AbstractionsArtifact,
    Artifact,
    RelationshipsArtifact,
    ReviewArtifact,
    TutorialsArtifact,
)

_MERMAID_ID = re.compile(r"[^A-Za-z0-9_]")
# libyaml's safe dumper when PyYAML was built with it: the same output, many times faster.
_YAML_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


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
    for ch in review.chapters:
        parts.append(f"{ch.index}. [{ch.title}]({chapter_slug(ch.index, ch.slug)}.md)")
    if tutorials.tutorials:
        parts += ["", "## Tutorials", ""]
        for t in tutorials.tutorials:
            parts.append(f"{t.index}. [{t.title}]({tutorial_slug(t.index, t.slug)}.md)")
    return DocSpec(
        slug="index",
        title=abstractions.project_name,
        chapter_index=0,
        kind="toc",
        content="\n".join(parts) + "\n",
    )


def build_docs(artifacts: dict[int, Artifact]) -> list[DocSpec]:
    """All docs of a finished run, from the step artifacts (steps 1-6)."""
    abstractions = artifacts[1]
    rels = artifacts[2]
    review = artifacts[5]
    tutorials = artifacts[6]
    assert isinstance(abstractions, AbstractionsArtifact)
    assert isinstance(rels, RelationshipsArtifact)
    assert isinstance(review, ReviewArtifact)
    assert isinstance(tutorials, TutorialsArtifact)
    docs = [build_toc(abstractions, rels, review, tutorials)]
    for ch in review.chapters:
        docs.append(
            DocSpec(
                slug=chapter_slug(ch.index, ch.slug),
                title=ch.title,
                chapter_index=ch.index,
                kind="chapter",
                content=ch.content,
            )
        )
    for t in tutorials.tutorials:
        docs.append(
            DocSpec(
                slug=tutorial_slug(t.index, t.slug),
                title=t.title,
                chapter_index=t.index,
                kind="tutorial",
                content=t.content,
            )
        )
    for step, artifact in sorted(artifacts.items()):
        name = type(artifact).__name__.removesuffix("Artifact").lower()
        docs.append(
            DocSpec(
                slug=f"artifact-{step}-{name}",
                title=f"Step {step} artifact: {name}",
                chapter_index=step,
                kind="yaml",
                content=yaml.dump(
                    artifact.model_dump(mode="json"),
                    Dumper=_YAML_DUMPER,
                    sort_keys=False,
                    allow_unicode=True,
                ),
            )
        )
    return docs


def doc_filename(doc: DocSpec | DocRecord) -> str:
    if doc.kind == "toc":
        return "index.md"
    if doc.kind == "yaml":
        return f"artifacts/{doc.slug}.yaml"
    return f"{doc.slug}.md"


def write_docs(docs: Sequence[DocSpec | DocRecord], out_dir: Path) -> list[Path]:
    """Write docs as files under ``out_dir``; returns the paths written."""
    written = []
    for doc in docs:
        path = out_dir / doc_filename(doc)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc.content, encoding="utf-8")
        written.append(path)
    return written
