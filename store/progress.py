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

from datetime import UTC, datetime
from typing import Literal, get_args
from zoneinfo import ZoneInfo

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


# Why a step gave its job back to wait for Claude (analysis/claude/guard.py), and what the
# job's progress says meanwhile. "{at}" is the expected end, as HH:MM in the progress
# time zone; a cause with no known end says who must act instead.
_WAITING: dict[str, dict[str, str]] = {
    "en": {
        "usage_limit": "Waiting: Claude usage limit reached, resuming around {at}",
        "rate_limit": "Waiting: Claude rate limit reached, resuming around {at}",
        "overloaded": "Waiting: Claude is overloaded, resuming around {at}",
        "capacity": "Waiting: every Claude slot is busy, resuming around {at}",
        "credential": "Waiting: the Claude credential was refused; an operator must renew it",
        "spend": "Waiting: the Claude spend limit is reached; an operator must raise it",
        "other": "Waiting for Claude, resuming around {at}",
    },
    "fr": {
        "usage_limit": "En attente : limite d'utilisation de Claude atteinte, reprise vers {at}",
        "rate_limit": "En attente : limite de débit de Claude atteinte, reprise vers {at}",
        "overloaded": "En attente : Claude est surchargé, reprise vers {at}",
        "capacity": "En attente : tous les appels à Claude sont occupés, reprise vers {at}",
        "credential": (
            "En attente : identifiants Claude refusés, un opérateur doit les renouveler"
        ),
        "spend": "En attente : plafond de dépenses Claude atteint, un opérateur doit le relever",
        "other": "En attente de Claude, reprise vers {at}",
    },
}


def waiting_text(reason: str, until_ms: int, language: Language, timezone: str) -> str:
    """What ``progress`` shows while a job waits for Claude until ``until_ms``."""
    texts = _WAITING[language]
    at = datetime.fromtimestamp(until_ms / 1000, UTC).astimezone(ZoneInfo(timezone))
    return texts.get(reason, texts["other"]).format(at=at.strftime("%H:%M"))
