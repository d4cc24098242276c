"""The language of the CLI's own terminal output, and a job's state in it.

The job's ``progress`` field is written for the web app's French UI (PROGRESS_LANGUAGE,
French by default); an operator's terminal is another reader. The CLI's own output
(the progress bar of ``fondation analyze``, ``fondation jobs`` and ``fondation job``)
says a job's state in the terminal's language instead: English, unless the locale the
terminal gives its programs is French (LC_ALL, else LC_MESSAGES, else LANG, the order
in which POSIX lets the first one set decide, starting with ``fr``). The texts are the
job store's own (store/progress.py), so the two readers see the same words.
"""

from __future__ import annotations

from collections.abc import Mapping

from fondation.steps import STEPS, step
from store.progress import Language, Moment, moment_text, step_progress
from store.records import JobRecord

# The statuses that say which step runs without a step number (one step each).
_STEP_OF_STATUS = {s.status: s.number for s in STEPS if not s.is_analysis}
_MOMENT_OF_STATUS: dict[str, Moment] = {
    "claimed": "claimed",
    "completed": "completed",
    "failed": "failed",
    "dead": "dead",
    "canceled": "canceled",
}


def terminal_language(environ: Mapping[str, str]) -> Language:
    """French when the terminal's locale for messages is French, else English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


def job_state_text(job: JobRecord, language: Language) -> str:
    """What the job is doing, said in ``language``: the texts of the store's progress
    field, chosen from the job's status and step instead of read from that field."""
    if job.status == "pending":
        return moment_text("retrying" if job.attempts > 0 else "queued", language)
    if job.status in _MOMENT_OF_STATUS:
        return moment_text(_MOMENT_OF_STATUS[job.status], language)
    if job.status in _STEP_OF_STATUS:
        return step_progress(_STEP_OF_STATUS[job.status], language)
    if job.status == "analyzing" and job.current_step is not None:
        try:
            if step(job.current_step).is_analysis:
                return step_progress(job.current_step, language)
        except ValueError:
            pass
    # A status of the web app's own (the Node worker's "running"), or a step we do not
    # know: the stored text is all there is.
    return job.progress or job.status
