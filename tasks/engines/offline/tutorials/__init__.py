"""Step 6: exercises and a quiz built from the code itself, each with its answer.

- trace: follow a real call path through three files;
- predict: read a real test up to its first check and predict the check;
- extend: plan a new implementation of a real extension point;
- quiz: where things are defined and what depends on what.

A kind of exercise the code offers no material for (no tests, no abstract base) is left
out rather than invented.
"""

from __future__ import annotations

from tasks.artifacts import Tutorial, TutorialsArtifact
from tasks.engines.base import CancelToken
from tasks.engines.offline.text import unique_slug
from tasks.engines.offline.tutorials.common import Workshop
from tasks.engines.offline.tutorials.extend import extend_drafts
from tasks.engines.offline.tutorials.predict import predict_drafts
from tasks.engines.offline.tutorials.quiz import quiz_drafts
from tasks.engines.offline.tutorials.trace import trace_drafts


def create_tutorials(shop: Workshop, cancel: CancelToken) -> TutorialsArtifact:
    drafts = trace_drafts(shop, cancel)
    drafts += predict_drafts(shop, cancel)
    drafts += extend_drafts(shop, cancel)
    drafts += quiz_drafts(shop)
    taken: set[str] = set()
    tutorials: list[Tutorial] = []
    for index, draft in enumerate(drafts, start=1):
        cancel.check()
        content = "\n".join([f"# Tutorial {index}: {draft.title}", "", *draft.body])
        tutorials.append(
            Tutorial(
                index=index,
                slug=unique_slug(draft.slug, taken),
                title=draft.title,
                content=content.rstrip() + "\n",
                files=draft.files,
            )
        )
    return TutorialsArtifact(tutorials=tutorials)


__all__ = ["Workshop", "create_tutorials"]
