"""Step 6: exercises built from the code itself, each with its answer.

- use: do with the public API what one of the project's examples does;
- trace: follow a real call path from the entry point through three files;
- extend: plan a new implementation of a real extension point (several exist);
- predict: read a real test of the public behaviour up to its first check, predict it.

A kind of exercise the code offers no material for (no examples, no tests, no
interface with several implementations) is left out rather than invented. Titles are
unique: a draft whose title an earlier one took is dropped.
"""

from __future__ import annotations

from analysis.course import markdown
from analysis.course.artifacts import Tutorial, TutorialsArtifact
from analysis.offline.text import unique_slug
from analysis.offline.tutorials.common import Workshop
from analysis.offline.tutorials.extend import extend_drafts
from analysis.offline.tutorials.predict import predict_drafts
from analysis.offline.tutorials.trace import trace_drafts
from analysis.offline.tutorials.use import use_drafts
from fondation.cancel import CancelToken


def create_tutorials(shop: Workshop, cancel: CancelToken) -> TutorialsArtifact:
    drafts = use_drafts(shop)
    drafts += trace_drafts(shop, cancel)
    drafts += extend_drafts(shop, cancel)
    drafts += predict_drafts(shop, cancel)
    taken: set[str] = set()
    titles: set[str] = set()
    tutorials: list[Tutorial] = []
    for draft in drafts:
        cancel.check()
        # A draft with nothing to say is left out, as a kind without material is: a
        # tutorial is never a title over nothing.
        if draft.title in titles or markdown.is_empty_body("\n".join(draft.body)):
            continue
        titles.add(draft.title)
        index = len(tutorials) + 1
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
