"""The artifact each step produces, as pydantic models.

Artifacts are stored in the job store as JSON after each step, so that a re-run of the
job skips finished steps and any worker can continue the chain. Both engines (offline and
Claude) produce exactly these models. Paths are relative to the checkout root, with '/'.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fondation.steps import STEPS


class Artifact(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Citation(Artifact):
    """A real place in the checkout: ``path`` exists, lines are 1-based and inclusive."""

    path: str
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)

    def render(self) -> str:
        if self.start_line == self.end_line:
            return f"{self.path}:{self.start_line}"
        return f"{self.path}:{self.start_line}-{self.end_line}"


class CloneArtifact(Artifact):
    """Step 0. Enough for any worker to re-create the checkout at the same commit."""

    url: str  # credentials removed
    ref: str | None
    commit: str
    files: int
    bytes: int


class Abstraction(Artifact):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    summary: str
    files: list[str] = Field(min_length=1)
    symbols: list[str] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)


class AbstractionsArtifact(Artifact):
    """Step 1."""

    project_name: str
    summary: str
    abstractions: list[Abstraction] = Field(min_length=1)
    skipped: dict[str, str] = Field(default_factory=dict)  # path -> reason


class Relationship(Artifact):
    source: str  # Abstraction.id
    target: str  # Abstraction.id
    label: str  # what crosses the edge: "imports", "calls", "inherits", ...
    citations: list[Citation] = Field(default_factory=list)


class RelationshipsArtifact(Artifact):
    """Step 2."""

    summary: str
    relationships: list[Relationship]


class OrderArtifact(Artifact):
    """Step 3. A permutation of the abstraction ids, foundations first."""

    order: list[str] = Field(min_length=1)
    rationale: str = ""


class Chapter(Artifact):
    index: int = Field(ge=1)
    abstraction_id: str
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    content: str  # Markdown
    citations: list[Citation] = Field(default_factory=list)


class ChaptersArtifact(Artifact):
    """Step 4."""

    chapters: list[Chapter] = Field(min_length=1)


class ReviewFinding(Artifact):
    chapter_slug: str
    kind: str  # "citation", "mermaid", "empty-section", "link", ...
    message: str
    fixed: bool


class ReviewArtifact(Artifact):
    """Step 5. The reviewed chapters replace step 4's."""

    chapters: list[Chapter] = Field(min_length=1)
    findings: list[ReviewFinding] = Field(default_factory=list)


class Tutorial(Artifact):
    index: int = Field(ge=1)
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    content: str  # Markdown: the exercise, then its answer
    files: list[str] = Field(default_factory=list)


class TutorialsArtifact(Artifact):
    """Step 6."""

    tutorials: list[Tutorial]


_BY_NAME: dict[str, type[Artifact]] = {
    cls.__name__: cls
    for cls in (
        CloneArtifact,
        AbstractionsArtifact,
        RelationshipsArtifact,
        OrderArtifact,
        ChaptersArtifact,
        ReviewArtifact,
        TutorialsArtifact,
    )
}
# The type of each step's artifact, as the step table names it (the save step has none).
STEP_ARTIFACTS: dict[int, type[Artifact]] = {
    s.number: _BY_NAME[s.artifact] for s in STEPS if s.artifact is not None
}
