"""The texts of a job's ``progress`` field, in the web app's language or the operators'.

The web app's UI is French and shows ``progress`` as it is (its translateProgress maps
only a few English words), so French is the default (PROGRESS_LANGUAGE). Job logs always
carry the English step line, ``Step 3/6: Determining order``, which the runbook greps.
``convex/functions/worker/lib/progress.ts`` is the TypeScript side: it reads the step
names and texts from ``lib/shared.json``, which tests/unit/test_shared_rules.py pins these
tables to, and the contract suite checks that both stores write the same texts.
"""

from __future__ import annotations

from typing import Literal, get_args

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
