"""The texts of a job's ``progress`` field, in the web app's language or the operators'.

The web app's UI is French and shows ``progress`` as it is (its translateProgress maps
only a few English words), so French is the default (PROGRESS_LANGUAGE). Job logs always
carry the English step line, ``Step 3/6: Determining order``, which the runbook greps.
``convex/functions/worker/lib/progress.ts`` is the TypeScript side. Both read the step
names (English and French) from the step table in ``shared.json`` (fondation/steps.py);
tests/unit/test_shared_rules.py pins the moments below to the same file, and the contract
suite checks that both stores write the same texts.
"""

from __future__ import annotations

from typing import Literal, get_args

from fondation.steps import ANALYSIS_STEPS, shared_rules, step, step_line

Language = Literal["fr", "en"]
LANGUAGES: tuple[str, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "fr"

Moment = Literal["claimed", "queued", "retrying", "completed", "failed", "dead", "canceled"]

_MOMENTS: dict[str, dict[str, str]] = {
    "en": {
        "claimed": "Claimed",
        "queued": "Queued",
        "retrying": "Retrying",
        "completed": "Completed",
        "failed": "Failed",
        "dead": "Dead",
        "canceled": "Canceled",
    },
    "fr": {
        "claimed": "Initialisation...",
        "queued": "En attente...",
        "retrying": "Nouvelle tentative prévue...",
        "completed": "Terminé",
        "failed": "Échec",
        "dead": "Échec définitif",
        "canceled": "Annulé",
    },
}


def step_progress(number: int, language: Language) -> str:
    """What ``progress`` shows while step ``number`` runs: in French the Node worker's
    texts ("Étape 3/6: ..."), in English the log line."""
    if language == "en":
        return step_line(number)
    s = step(number)
    return f"Étape {number}/{ANALYSIS_STEPS}: {s.name_fr}" if s.is_analysis else s.name_fr


def step_log_line(number: int) -> str:
    """The job log's line for a step start: always the operators' English."""
    return step_line(number)


def moment_text(moment: Moment, language: Language) -> str:
    return _MOMENTS[language][moment]


_CHAPTERS_READY: dict[str, str] = shared_rules()["progress"]["chaptersReady"]


def chapters_ready_progress(ready: int, total: int, language: Language) -> str:
    """What ``progress`` shows once chapters are stored as their reviews end: the course
    page puts it after "Étape k sur 6: ", beside the chapters it already lists."""
    return _CHAPTERS_READY[language].format(ready=ready, total=total)
