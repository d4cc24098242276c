"""The course as docs: an index (toc), the chapters, the tutorials and, as references, the
course's structure (abstractions, relationships, order) as yaml. The same list is stored
in the job store and written by ``fondation export``.

The docs are shaped for the web app's course page, which lists them by kind, hides a
second doc of the same title and kind, opens them by client state (no URL per doc) and
stores each in a Convex document of at most 1 MiB: every doc is normalised Markdown with
no relative links, titles are unique per kind, and a doc too large for one document is
cut into parts. The file export puts the index's links back, since files have paths.

Each chapter is stored as soon as its review ends (``chapter_docs``), before the rest of
the course exists; the save then builds the whole course around the chapters already
stored, keeping the titles they were given (``CourseTitles``), so it has no chapter to
replace and the page no title to hide.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from analysis.course import markdown
from analysis.course.artifacts import (
    AbstractionsArtifact,
    Artifact,
    Chapter,
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
# A doc too large for one store document is stored as "<slug>-part-k", "<title> (part k of n)".
_PART_SLUG = re.compile(r"^(.+)-part-\d+$")
_PART_TITLE = re.compile(r"^(.+) \(part \d+ of \d+\)$")
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


def source_key(repository_id: str, kind: str, slug: str) -> str:
    """A doc's ``sourceKey``: what identifies it within its repository's course, the same
    in every run of the repository: its kind and its slug without the index (``03-cart``
    is the chapter of the abstraction ``cart`` wherever the order puts it), so a later
    run can tell which docs it may reuse."""
    return f"{repository_id}:{kind}:{slug}"


def chapter_docs(chapter: Chapter, titles: CourseTitles, repository_id: str) -> list[DocSpec]:
    """The docs of one reviewed chapter, exactly as the whole course stores them: the
    docs written as each review ends are the final save's, so it has nothing to replace."""
    doc = DocSpec(
        slug=chapter_slug(chapter.index, chapter.slug),
        title=chapter.title,
        chapter_index=chapter.index,
        kind="chapter",
        content=chapter.content,
        source_key=source_key(repository_id, "chapter", chapter.slug),
    )
    return _for_the_course_page(doc, titles)


def build_docs(
    artifacts: dict[int, Artifact],
    *,
    repository_id: str,
    titles: CourseTitles | None = None,
) -> list[DocSpec]:
    """All docs of a finished run, from the step artifacts (steps 1-6), shaped for the
    course page. ``titles`` holds the docs the job already has (its chapters written as
    their reviews ended), whose titles are kept. Pure: the same artifacts and stored
    docs give the same docs, so a save that runs twice upserts the same list. Raises
    ``EmptyDoc`` (permanent) rather than return a chapter or tutorial with nothing
    under its title."""
    abstractions = artifacts[1]
    rels = artifacts[2]
    review = artifacts[5]
    tutorials = artifacts[6]
    assert isinstance(abstractions, AbstractionsArtifact)
    assert isinstance(rels, RelationshipsArtifact)
    assert isinstance(review, ReviewArtifact)
    assert isinstance(tutorials, TutorialsArtifact)
    titles = titles if titles is not None else CourseTitles()
    toc = build_toc(abstractions, rels, review, tutorials)
    docs = _for_the_course_page(
        toc.model_copy(update={"source_key": source_key(repository_id, "toc", "index")}), titles
    )
    for ch in review.chapters:
        docs += chapter_docs(ch, titles, repository_id)
    for t in tutorials.tutorials:
        tutorial = DocSpec(
            slug=tutorial_slug(t.index, t.slug),
            title=t.title,
            chapter_index=t.index,
            kind="tutorial",
            content=t.content,
            source_key=source_key(repository_id, "tutorial", f"tutorial-{t.slug}"),
        )
        docs += _for_the_course_page(tutorial, titles)
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
        reference = DocSpec(
            slug=f"artifact-{step}-{name}",
            title=name.capitalize(),
            chapter_index=step,
            kind="yaml",
            content=content,
            source_key=source_key(repository_id, "yaml", f"artifact-{step}-{name}"),
        )
        docs += _for_the_course_page(reference, titles)
    return docs


class CourseTitles:
    """The titles of one job's docs, unique per kind as the course page compares them
    (trimmed, without case: it shows one doc per title and kind).

    Chapters are stored as their reviews end, in whatever order that is, so a title is
    given once and then kept: the docs already stored reserve their titles, and a doc
    stored again under its slug keeps its title while it still names the same thing
    (``Title``, or ``Title (2)`` given when another doc had ``Title`` first)."""

    def __init__(self, stored: Iterable[DocSpec] = ()) -> None:
        self._taken: set[tuple[str, str]] = set()
        self._stored: dict[str, str] = {}  # slug -> title, and a split chapter's own
        for doc in stored:
            self._taken.add((doc.kind, _compared(doc.title)))
            self._stored[doc.slug] = doc.title
            slug, title = _PART_SLUG.match(doc.slug), _PART_TITLE.match(doc.title)
            if slug and title:
                self._stored.setdefault(slug.group(1), title.group(1))

    def give(self, kind: str, slug: str, wanted: str) -> str:
        """The title of the doc ``slug``: its stored one when that still fits, else
        ``wanted``, or ``wanted (2)``, ``(3)``... when the kind already has it."""
        stored = self._stored.get(slug)
        if stored is not None and _fits(stored, wanted):
            self._taken.add((kind, _compared(stored)))
            return stored
        candidate, n = wanted, 1
        while (kind, _compared(candidate)) in self._taken:
            n += 1
            candidate = f"{wanted} ({n})"
        self._taken.add((kind, _compared(candidate)))
        self._stored[slug] = candidate  # given once: the same doc again keeps it
        return candidate


def _compared(title: str) -> str:
    return title.strip().lower()


def _fits(stored: str, wanted: str) -> bool:
    """Whether a stored title still names a doc now titled ``wanted``."""
    if _compared(stored) == _compared(wanted):
        return True
    return re.fullmatch(re.escape(wanted.strip()) + r" \(\d+\)", stored.strip()) is not None


def _for_the_course_page(doc: DocSpec, titles: CourseTitles) -> list[DocSpec]:
    """Normalised, unlinked, with a unique title, within one store document each."""
    content = doc.content
    if doc.kind != "yaml":
        content = markdown.course_body(content)
    if doc.kind in _READ_KINDS and not content.strip():
        raise EmptyDoc(f"{doc.kind} {doc.slug!r} ({doc.title!r}) has no content under its title")
    title = titles.give(doc.kind, doc.slug, doc.title.strip())
    pieces = markdown.split(content)
    if len(pieces) == 1:
        return [doc.model_copy(update={"title": title, "content": content})]
    shaped = []
    for k, piece in enumerate(pieces, start=1):
        slug = f"{doc.slug}-part-{k}"
        part = titles.give(doc.kind, slug, f"{title} (part {k} of {len(pieces)})")
        update = {"slug": slug, "title": part, "content": piece}
        if doc.source_key is not None:
            update["source_key"] = f"{doc.source_key}-part-{k}"
        shaped.append(doc.model_copy(update=update))
    return shaped


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
