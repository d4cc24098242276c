"""Which instructions a job's prompt gives the engine."""

from __future__ import annotations

import pytest

from analysis.course.job_prompt import is_stock_prompt, requester_instructions


@pytest.mark.parametrize(
    "prompt",
    [
        # Generate (hooks/use-job-management.ts)
        "Générer le cours pour ada/shop",
        # Regenerate (hooks/use-regenerate.tsx, components/repos/regenerate-modal.tsx)
        "Régénérer le cours pour ada/shop-v2.js",
        # The repository card's test button (components/repos/repo-card.tsx, jobs.create)
        "Test analysis for ada/shop",
        "Test analysis for octocat/Hello-World",
        # jobs.regenerate's fallback, repositories.triggerAnalyze
        "Regenerate course documentation",
        # What the worker's own createJob stores when the CLI gives no prompt
        "",
        "  \n",
    ],
)
def test_the_web_apps_stock_prompts_give_no_instructions(prompt: str) -> None:
    assert is_stock_prompt(prompt)
    assert requester_instructions(prompt, "English") == ""


@pytest.mark.parametrize(
    "prompt",
    [
        "Focus on the scheduler.",
        "Test analysis for ada/shop, in depth please",
        "Générer le cours pour ada/shop en insistant sur les tests",
        "Test analysis",
        "Regenerate course documentation for beginners",
    ],
)
def test_a_prompt_with_a_persons_own_words_is_passed_on_whole(prompt: str) -> None:
    assert not is_stock_prompt(prompt)
    assert requester_instructions(f"  {prompt}\n", "English") == prompt


def test_another_course_language_is_asked_for_before_the_requesters_words() -> None:
    assert requester_instructions("Générer le cours pour ada/shop", "French") == (
        "Write the whole course (titles, chapters, tutorials) in French."
    )
    assert requester_instructions("Test analysis for ada/shop", "French") == (
        "Write the whole course (titles, chapters, tutorials) in French."
    )
    assert requester_instructions("Focus on X.", "French").splitlines() == [
        "Write the whole course (titles, chapters, tutorials) in French.",
        "Focus on X.",
    ]
