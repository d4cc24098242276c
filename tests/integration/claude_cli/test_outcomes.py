"""How each way a call can end on the real CLI reaches the engine: a schema bounce, max
turns, the budget, an overloaded API, a timeout and a plain-text answer (the other
refusals of the API: test_refusals.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from analysis.claude import read_records
from analysis.claude.refusals import ClaudeOverloaded
from analysis.claude.result import ClaudeAnswerError, ClaudeTimeout
from testbed.claude_api.cli import CLAUDE_BIN, real_settings
from testbed.claude_api.server import Failure, Reply, Request, ScriptedApi, ToolUse, answer
from tests.integration.claude_cli.conftest import Jobs, call_once

pytestmark = pytest.mark.integration


def _read_forever(jobs: Jobs) -> ToolUse:
    return ToolUse("Read", {"file_path": str(jobs.checkout / "shop" / "cart.py")})


def test_an_answer_that_breaks_the_schema_is_bounced_by_the_cli_then_accepted(
    jobs: Jobs,
) -> None:
    def scenario(req: Request) -> Reply:
        if req.turn == 0:
            return answer({"answer": 42})  # not a string
        return answer({"answer": "fixed"})

    with ScriptedApi(scenario) as api:
        out = call_once(real_settings(api.url), jobs.ctx())
    assert out.output == {"answer": "fixed"}, out.error
    assert out.returncode == 0
    bounced = api.messages()[1].tool_results()
    assert "Output does not match required schema" in str(bounced[0]["content"])
    assert out.envelope is not None
    (record,) = read_records(jobs.work_dir)
    # Turns and cost are the CLI's own figures, as it printed them.
    assert (record.subtype, record.num_turns) == ("success", out.envelope.num_turns)
    assert record.total_cost_usd == out.envelope.total_cost_usd > 0


def test_max_turns_ends_the_call_with_an_error_answer(jobs: Jobs) -> None:
    def scenario(req: Request) -> Reply:
        return Reply(tools=(_read_forever(jobs),))

    with ScriptedApi(scenario) as api:
        out = call_once(real_settings(api.url, max_turns=2), jobs.ctx())
    assert isinstance(out.error, ClaudeAnswerError), out.error
    assert out.error.subtype == "error_max_turns"
    assert out.returncode == 1  # a result object and exit 1, as the double's max_turns
    assert len(api.messages()) == 2
    (record,) = read_records(jobs.work_dir)
    assert (record.subtype, record.is_error, record.num_turns) == ("error_max_turns", True, 3)


def test_a_spent_budget_ends_the_call_with_an_error_answer(jobs: Jobs) -> None:
    def scenario(req: Request) -> Reply:
        # A million input tokens a turn: far past a one-cent budget after the first.
        return Reply(tools=(_read_forever(jobs),), input_tokens=1_000_000)

    with ScriptedApi(scenario) as api:
        out = call_once(real_settings(api.url, max_budget_usd=0.01), jobs.ctx())
    assert isinstance(out.error, ClaudeAnswerError), out.error
    assert out.error.subtype == "error_max_budget_usd"
    assert out.returncode == 1
    (record,) = read_records(jobs.work_dir)
    assert record.total_cost_usd > 0.01
    assert len(api.messages()) < 5


def test_an_overloaded_api_is_a_refusal_after_the_clis_own_retries(jobs: Jobs) -> None:
    with ScriptedApi(lambda req: Failure(529)) as api:
        out = call_once(real_settings(api.url), jobs.ctx())
    assert isinstance(out.error, ClaudeOverloaded), out.error
    assert out.envelope is not None
    assert out.envelope.is_error
    # subtype success, is_error true, exit 1 (the double's is_error scenario).
    assert (out.envelope.subtype, out.returncode) == ("success", 1)
    assert len(api.messages()) > 1  # the CLI retried before it gave up


def test_a_plain_text_answer_is_refused_as_having_no_structured_output(jobs: Jobs) -> None:
    with ScriptedApi(lambda req: Reply(text="The answer is obvious.")) as api:
        out = call_once(real_settings(api.url), jobs.ctx())
    assert isinstance(out.error, ClaudeAnswerError), out.error
    assert "structured_output" in str(out.error)
    assert out.envelope is not None
    assert out.envelope.subtype == "success"
    assert out.returncode == 0
    assert len(api.messages()) == 2  # the CLI nudged once


def _cli_processes() -> list[int]:
    exe = CLAUDE_BIN.resolve()
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "exe").readlink() == exe:
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.parametrize("sandbox", ["off", "auto"])
def test_a_call_past_its_timeout_is_killed_with_its_whole_process_group(
    jobs: Jobs, sandbox: str
) -> None:
    before = set(_cli_processes())
    running: list[int] = []

    def scenario(req: Request) -> Reply:
        running.extend(set(_cli_processes()) - before)
        return Reply(text="thinking", delay_s=15)

    with ScriptedApi(scenario) as api:
        started = time.monotonic()
        out = call_once(real_settings(api.url, timeout_s=3, sandbox=sandbox), jobs.ctx())
        took_s = time.monotonic() - started
    assert isinstance(out.error, ClaudeTimeout), out.error
    assert running, "the CLI was not seen running"
    assert took_s < 12
    assert set(_cli_processes()) & set(running) == set()  # no orphan left
    (record,) = read_records(jobs.work_dir)
    assert record.subtype == "timeout"
