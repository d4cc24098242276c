"""Which instructions a job's prompt gives the engine."""

from __future__ import annotations

import pytest

from analysis.course.job_prompt import requester_instructions


@pytest.mark.parametrize(
    "prompt",
    [
        "Générer le cours pour ada/shop",
        "Régénérer le cours pour ada/shop-v2.js",
        "Regenerate course documentation",
    ],
)
def test_the_web_apps_stock_prompts_give_no_instructions(prompt: str) -> None:
    assert requester_instructions(prompt, "English") == ""


def test_a_prompt_a_person_wrote_is_passed_on() -> None:
    assert requester_instructions("  Focus on the scheduler.\n", "English") == (
        "Focus on the scheduler."
    )


def test_another_course_language_is_asked_for_before_the_requesters_words() -> None:
    assert requester_instructions("Générer le cours pour ada/shop", "French") == (
        "Write the whole course (titles, chapters, tutorials) in French."
    )
    assert requester_instructions("Focus on X.", "French").splitlines() == [
        "Write the whole course (titles, chapters, tutorials) in French.",
        "Focus on X.",
    ]
