"""The CLI's own output speaks the terminal's language, whatever the web app is shown."""

from __future__ import annotations

import pytest

from cli.terminal_text import job_state_text, terminal_language
from store.records import JobRecord


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "fr"),
        ({"LANG": "fr_CA"}, "fr"),
        ({"LANG": "fr"}, "fr"),
        # LC_ALL beats LC_MESSAGES, which beats LANG; an empty one does not count.
        ({"LANG": "fr_FR.UTF-8", "LC_ALL": "C"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "fr_BE.UTF-8"}, "fr"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "fr_FR.UTF-8"}, "fr"),
        ({"LANG": "fr_FR.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8", "LC_ALL": ""}, "fr"),
        ({"LC_CTYPE": "fr_FR.UTF-8"}, "en"),  # the character set is not the language
        ({"PROGRESS_LANGUAGE": "fr"}, "en"),  # the web app's setting is not the terminal's
    ],
)
def test_the_terminal_is_english_unless_its_locale_says_french(
    environ: dict[str, str], language: str
) -> None:
    assert terminal_language(environ) == language


def _job(status: str, **fields: object) -> JobRecord:
    base: dict[str, object] = {
        "id": "j1", "userId": "u", "repositoryId": "r", "status": status, "prompt": "",
        "createdAt": 0, "progress": "Étape 3/6: stored French text",
    }  # fmt: skip
    return JobRecord.model_validate(base | fields)


@pytest.mark.parametrize(
    ("job", "en", "fr"),
    [
        (_job("pending"), "Queued", "En attente..."),
        (_job("pending", attempts=2), "Retrying", "Nouvelle tentative prévue..."),
        (_job("claimed"), "Claimed", "Initialisation..."),
        (_job("cloning", currentStep=0), "Cloning repository", "Clonage du dépôt..."),
        (
            _job("analyzing", currentStep=3),
            "Step 3/6: Determining order",
            "Étape 3/6: Détermination de l'ordre optimal des chapitres",
        ),
        (_job("gathering", currentStep=6), "Saving course", "Sauvegarde des résultats..."),
        (_job("completed", currentStep=6), "Completed", "Terminé"),
        (_job("failed"), "Failed", "Échec"),
        (_job("dead"), "Dead", "Échec définitif"),
        (_job("canceled"), "Canceled", "Annulé"),
    ],
)
def test_a_jobs_state_is_said_from_its_status_and_step_not_its_stored_text(
    job: JobRecord, en: str, fr: str
) -> None:
    assert job_state_text(job, "en") == en
    assert job_state_text(job, "fr") == fr


def test_a_status_only_the_web_app_writes_shows_the_stored_text() -> None:
    running = _job("running", progress="Initializing...")
    assert job_state_text(running, "en") == "Initializing..."
    assert job_state_text(_job("analyzing", currentStep=None), "en") == (
        "Étape 3/6: stored French text"
    )
