"""What a job's prompt asks of the engine, and in which language the course is written.

The web app writes every job's prompt itself; no page lets a person type one. Those stock
prompts name the repository and nothing else, so they give the engine no instructions;
taken as instructions they would also ask for a French course that nobody chose. A prompt
written by a person (``fondation submit --prompt``) is passed on as the requester's
instructions. The course's language is the operator's setting, COURSE_LANGUAGE (English
by default, as before).

Every place the web app writes a prompt (fondation-web-app, branch main), each one matched
by ``_WEB_STOCK_PROMPTS``:

- ``hooks/use-job-management.ts`` (Generate): "Générer le cours pour owner/repo";
- ``hooks/use-regenerate.tsx`` and ``components/repos/regenerate-modal.tsx``
  (Regenerate): "Régénérer le cours pour owner/repo";
- ``components/repos/repo-card.tsx`` (the card's test button, ``jobs.create``):
  "Test analysis for owner/repo";
- ``convex/jobs.ts`` ``regenerate``'s fallback and ``convex/repositories.ts``
  ``triggerAnalyze``: "Regenerate course documentation".

(``queue.createJob`` stores the prompt its caller gives; nothing of the web calls it.)
"""

from __future__ import annotations

import re

# One repository name: "owner/repo" as the web writes fullName.
_REPO = r"\S+"
_WEB_STOCK_PROMPTS = re.compile(
    r"^\s*(?:"
    rf"(?:Générer|Régénérer) le cours pour {_REPO}"
    rf"|Test analysis for {_REPO}"
    r"|Regenerate course documentation"
    r")\s*$"
)
DEFAULT_COURSE_LANGUAGE = "English"


def is_stock_prompt(prompt: str) -> bool:
    """Whether the web app wrote ``prompt`` by itself (an empty one counts too)."""
    return not prompt.strip() or _WEB_STOCK_PROMPTS.match(prompt) is not None


def requester_instructions(prompt: str, course_language: str) -> str:
    """The instructions an engine follows for this job: the requester's own words, and
    the course's language when it is not the default."""
    own = "" if is_stock_prompt(prompt) else prompt.strip()
    language = course_language.strip()
    if not language or language.lower() == DEFAULT_COURSE_LANGUAGE.lower():
        return own
    line = f"Write the whole course (titles, chapters, tutorials) in {language}."
    return f"{line}\n{own}" if own else line
