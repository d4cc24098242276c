"""What a job's prompt asks of the engine, and in which language the course is written.

The web app writes every job's prompt itself, in its French UI's words: "Générer le cours
pour owner/repo" or "Régénérer le cours pour owner/repo". Those name the repository and
nothing else (as does ``jobs.regenerate``'s own default, "Regenerate course
documentation"), so they give the engine no instructions; taken as instructions they would
also ask for a French course that nobody chose. A prompt written by a person (``fondation
submit --prompt``) is passed on as the requester's instructions. The course's language is
the operator's setting, COURSE_LANGUAGE (English by default, as before).
"""

from __future__ import annotations

import re

# The web app's stock prompts (jobs.create and jobs.regenerate).
_WEB_STOCK_PROMPT = re.compile(
    r"^\s*(?:(?:Générer|Régénérer) le cours pour \S+|Regenerate course documentation)\s*$"
)
DEFAULT_COURSE_LANGUAGE = "English"


def requester_instructions(prompt: str, course_language: str) -> str:
    """The instructions an engine follows for this job: the requester's own words, and
    the course's language when it is not the default."""
    own = "" if _WEB_STOCK_PROMPT.match(prompt) else prompt.strip()
    language = course_language.strip()
    if not language or language.lower() == DEFAULT_COURSE_LANGUAGE.lower():
        return own
    line = f"Write the whole course (titles, chapters, tutorials) in {language}."
    return f"{line}\n{own}" if own else line
