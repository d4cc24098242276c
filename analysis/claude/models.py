"""Small answer models for the per-chapter calls; their JSON schema is what the CLI is
asked to fill. The engine fills in what it already knows (index, slug, abstraction id),
so the model cannot get those wrong."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from analysis.course.artifacts import Citation


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChapterDraft(_Answer):
    """One chapter of the course, about one abstraction."""

    title: str = Field(min_length=1)
    content: str = Field(min_length=1, description="The chapter in Markdown.")
    citations: list[Citation] = Field(default_factory=list)


class FindingDraft(_Answer):
    kind: str = Field(description='"citation", "mermaid", "empty-section", "link", ...')
    message: str
    fixed: bool


class ChapterReview(_Answer):
    """A reviewed chapter: the corrected chapter, and what was found."""

    title: str = Field(min_length=1)
    content: str = Field(min_length=1, description="The corrected chapter in Markdown.")
    citations: list[Citation] = Field(default_factory=list)
    findings: list[FindingDraft] = Field(default_factory=list)
