"""The Python constants that ``shared.json`` cannot give at run time, pinned to it.

``convex/functions/worker/lib/shared.json`` is the one source both halves read: the
functions import it, and the package reads it through ``fondation/shared.json`` (the step
table: test_step_table.py). What Python must spell out itself (Literal types, the
backoff and size constants the store computes with) is pinned here, so an edit to one
side fails until the other follows. What the stores write (progress and log texts, the
schedule as it lands in ``runAt``) is checked on both stores by the contract suite.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest

from fondation.settings import Settings
from store import backoff, progress, records
from store.convex import wire

SHARED = Path(__file__).resolve().parents[2] / "convex/functions/worker/lib/shared.json"


@pytest.fixture(scope="module")
def shared() -> dict[str, Any]:
    rules: dict[str, Any] = json.loads(SHARED.read_text(encoding="utf-8"))
    return rules


def test_the_statuses_and_which_are_active_final_and_retryable_are_the_same(
    shared: dict[str, Any],
) -> None:
    statuses = shared["statuses"]
    assert list(get_args(records.JobStatus)) == statuses["all"]
    assert set(statuses["active"]) == records.ACTIVE_STATUSES
    assert set(statuses["final"]) == records.FINAL_STATUSES
    assert set(statuses["retryable"]) == records.RETRYABLE_STATUSES


def test_the_retry_schedule_and_the_default_attempts_are_the_same(
    shared: dict[str, Any],
) -> None:
    retry = shared["retry"]
    assert retry["baseDelayMs"] == backoff.BASE_DELAY_MS
    assert retry["growth"] == backoff.GROWTH
    assert retry["maxDelayMs"] == backoff.MAX_DELAY_MS
    assert retry["maxJitterMs"] == backoff.MAX_JITTER_MS
    assert retry["defaultMaxAttempts"] == records.DEFAULT_MAX_ATTEMPTS
    spec = records.JobSpec(user_id="u", repository_id="r")
    assert spec.max_attempts == retry["defaultMaxAttempts"]


def test_the_convex_store_cuts_artifacts_as_the_functions_accept_them(
    shared: dict[str, Any],
) -> None:
    assert shared["artifacts"]["partBytes"] == wire._ARTIFACT_PART_BYTES
    assert shared["artifacts"]["maxParts"] == wire._MAX_ARTIFACT_PARTS


def test_the_convex_store_pages_within_what_one_call_answers(shared: dict[str, Any]) -> None:
    # get_logs stops at the first short page: a page larger than the functions serve
    # would end every long log early.
    assert shared["calls"]["maxLogLines"] >= wire.LOG_PAGE
    # upsertDocs refuses a call with more docs than this.
    assert shared["calls"]["maxDocs"] >= wire._DOCS_PER_CALL


def test_the_progress_texts_are_the_same(shared: dict[str, Any]) -> None:
    texts = shared["progress"]
    assert texts["defaultLanguage"] == progress.DEFAULT_LANGUAGE
    assert list(progress.LANGUAGES) == list(texts["moments"])
    assert texts["moments"] == progress._MOMENTS
    assert set(get_args(progress.Moment)) == set(texts["moments"]["en"])


def test_the_settings_offer_the_same_languages_and_default(shared: dict[str, Any]) -> None:
    # The settings are the ground floor and import nothing of the store: a copy of its own.
    field = Settings.model_fields["progress_language"]
    assert list(get_args(field.annotation)) == list(shared["progress"]["moments"])
    assert field.default == shared["progress"]["defaultLanguage"]


def test_the_reuse_records_bounds_are_the_same(shared: dict[str, Any]) -> None:
    assert shared["reuse"]["maxValueChars"] == records.REUSE_VALUE_MAX_CHARS
    assert shared["reuse"]["variantsPerKey"] == records.REUSE_VARIANTS_PER_KEY
