"""The step table is the one home of a step: every part of the worker that names steps
(the chain's Celery tasks, the course model's artifact types, the Engine's methods, the
Claude engine's per-step settings, the progress texts) follows it, so a step added in one
place only fails here."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import get_args

from analysis.claude.settings import StepName
from analysis.course.artifacts import STEP_ARTIFACTS
from analysis.engine import Engine
from fondation.settings import load_settings
from fondation.steps import ANALYSIS_STEPS, FINALIZE_STEP, STEPS, step_line
from store.progress import step_progress
from tasks.chain import STEP_TASKS
from tasks.step.celery_tasks import register_tasks
from tasks.step.runtime import RuntimeHolder
from tasks.worker.app import create_app

REPO = Path(__file__).resolve().parents[2]


def test_python_reads_the_same_file_the_functions_import() -> None:
    link = REPO / "fondation" / "shared.json"
    assert link.resolve() == (REPO / "convex/functions/worker/lib/shared.json").resolve()


def test_the_steps_are_the_clone_six_analysis_steps_and_the_save() -> None:
    assert [s.status for s in STEPS] == ["cloning"] + ["analyzing"] * 6 + ["gathering"]
    assert (ANALYSIS_STEPS, FINALIZE_STEP) == (6, 7)
    assert [s.number for s in STEPS] == list(range(len(STEPS)))


def test_the_chain_has_one_celery_task_per_step_and_the_worker_registers_each(
    tmp_path: Path,
) -> None:
    assert tuple(s.task for s in STEPS) == STEP_TASKS
    settings = load_settings(sqlite_path=tmp_path / "s.db")
    app = create_app(settings, "redis://127.0.0.1:1/0")
    register_tasks(app, RuntimeHolder(settings, "redis://127.0.0.1:1/0"))
    ours = {name for name in app.tasks if name.startswith("fondation.")}
    assert ours == set(STEP_TASKS)


def test_every_step_with_an_artifact_has_its_type_in_the_course_model() -> None:
    named = {s.number: s.artifact for s in STEPS if s.artifact is not None}
    assert {n: cls.__name__ for n, cls in STEP_ARTIFACTS.items()} == named


def test_the_engine_has_exactly_one_method_per_analysis_step() -> None:
    methods = {s.engine_method for s in STEPS if s.engine_method is not None}
    abstract = set(Engine.__abstractmethods__)
    assert methods == abstract
    for s in STEPS:
        if s.engine_method is not None:
            returns = inspect.signature(getattr(Engine, s.engine_method)).return_annotation
            assert returns == s.artifact, s


def test_the_claude_engine_names_its_calls_after_the_analysis_steps() -> None:
    assert list(get_args(StepName)) == [s.key for s in STEPS if s.is_analysis]


def test_only_the_analysis_steps_are_numbered_in_logs_and_progress() -> None:
    assert step_line(0) == "Cloning repository"
    assert step_line(3) == "Step 3/6: Determining order"
    assert step_line(FINALIZE_STEP) == "Saving course"
    assert step_progress(FINALIZE_STEP, "fr") == "Sauvegarde des résultats..."
    assert step_progress(2, "fr") == "Étape 2/6: Analyse des relations entre composants"
