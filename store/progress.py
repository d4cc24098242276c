"""The texts of a job's ``progress`` field, in the web app's language or the operators'.

The web app's UI is French and shows ``progress`` as it is (its translateProgress maps
only a few English words), so French is the default (PROGRESS_LANGUAGE). Job logs always
carry the English step line, ``Step 3/6: Determining order``, which the runbook greps.
``convex/functions/worker/lib/progress.ts`` is the TypeScript side: it reads the step
names and texts from ``lib/shared.json``, which tests/unit/test_shared_rules.py pins these
tables to, and the contract suite checks that both stores write the same texts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from store.records import ANALYSIS_STEPS, STEP_NAMES

Language = Literal["fr", "en"]
LANGUAGES: tuple[str, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "fr"

# The Node worker's French names of the six analysis steps.
_FRENCH_STEP_NAMES = (
    "Extraction des abstractions principales",
    "Analyse des relations entre composants",
    "Détermination de l'ordre optimal des chapitres",
    "Génération du contenu des chapitres",
    "Révision et amélioration des chapitres",
    "Génération de tutoriels interactifs",
)

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


def step_progress(step: int, language: Language) -> str:
    """What ``progress`` shows while ``step`` runs."""
    name = STEP_NAMES[step]
    if language == "fr":
        if step == 0:
            return "Clonage du dépôt..."
        if step > ANALYSIS_STEPS:
            return "Sauvegarde des résultats..."
        return f"Étape {step}/{ANALYSIS_STEPS}: {_FRENCH_STEP_NAMES[step - 1]}"
    if step == 0 or step > ANALYSIS_STEPS:
        return name
    return f"Step {step}/{ANALYSIS_STEPS}: {name}"


def step_log_line(step: int) -> str:
    """The job log's line for a step start: always the operators' English."""
    return step_progress(step, "en")


def moment_text(moment: Moment, language: Language) -> str:
    return _MOMENTS[language][moment]


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
