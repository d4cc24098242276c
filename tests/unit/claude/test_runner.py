"""One CLI call through the double: outputs kept, errors read in the right order, the
command line and the child's environment locked down."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from analysis.claude import read_records, replay
from analysis.claude.command import DISALLOWED_TOOLS, EMPTY_MCP, TOOLS
from analysis.claude.result import ClaudeAnswerError, ClaudeCrashed, ClaudeMalformedOutput
from analysis.claude.runner import ClaudeCall, ClaudeRunner
from analysis.course.artifacts import OrderArtifact
from analysis.engine import StepContext
from fondation.errors import ConfigError
from testbed.claude_double import FAKE_KEY, double_settings, make_claude_bin, read_log

SCHEMA = OrderArtifact.model_json_schema()


def _runner(tmp_path: Path, scenario: str, argv_log: Path, **settings: object) -> ClaudeRunner:
    claude = make_claude_bin(tmp_path / "bin", scenario, CLAUDE_DOUBLE_ARGV_LOG=str(argv_log))
    return ClaudeRunner(double_settings(claude, **settings))


def _call(prompt: str = "Order the abstractions.", key: str = "order") -> ClaudeCall:
    return ClaudeCall(step="order", key=key, prompt=prompt, schema=SCHEMA)


def test_a_call_returns_the_answer_and_keeps_its_raw_output_for_replay(
    tmp_path: Path, ctx: StepContext, argv_log: Path
) -> None:
    out = _runner(tmp_path, "success", argv_log).run(_call(), ctx)
    assert out["order"] == ["models", "cart", "checkout"]
    raw = ctx.work_dir / "claude" / "order-1.json"
    assert json.loads(raw.read_text())["structured_output"] == out
    envelope, again = replay(raw)
    assert again == out
    assert envelope.total_cost_usd == 0.0051
    meta = json.loads((ctx.work_dir / "claude" / "order-1.meta.json").read_text())
    assert meta["returncode"] == 0
    assert meta["prompt"].startswith("Order the abstractions.")
    [record] = read_records(ctx.work_dir)
    assert (record.step, record.call, record.attempt, record.subtype) == (
        "order",
        "order",
        1,
        "success",
    )
    assert record.num_turns == 1
    assert record.usage["input_tokens"] == 1200


def test_each_call_of_the_same_key_gets_its_own_raw_file(
    tmp_path: Path, ctx: StepContext, argv_log: Path
) -> None:
    runner = _runner(tmp_path, "success", argv_log)
    runner.run(_call(), ctx)
    runner.run(_call(), ctx)
    assert sorted(p.name for p in (ctx.work_dir / "claude").glob("order-*.json")) == [
        "order-1.json",
        "order-1.meta.json",
        "order-2.json",
        "order-2.meta.json",
    ]
    assert [r.attempt for r in read_records(ctx.work_dir)] == [1, 2]


def test_max_turns_is_read_from_stdout_before_the_exit_code(
    tmp_path: Path, ctx: StepContext, argv_log: Path
) -> None:
    with pytest.raises(ClaudeAnswerError) as caught:
        _runner(tmp_path, "max_turns", argv_log).run(_call(), ctx)
    assert caught.value.subtype == "error_max_turns"
    assert "Reached maximum number of turns" in str(caught.value)
    [record] = read_records(ctx.work_dir)
    assert (record.subtype, record.is_error, record.num_turns) == ("error_max_turns", True, 31)
    assert record.total_cost_usd == 0.3141  # a failed call still costs money
    with pytest.raises(ClaudeAnswerError):
        replay(ctx.work_dir / "claude" / "order-1.json")


def test_an_api_error_reported_with_a_success_subtype_is_an_error(
    tmp_path: Path, ctx: StepContext, argv_log: Path
) -> None:
    with pytest.raises(ClaudeAnswerError, match="overloaded"):
        _runner(tmp_path, "is_error", argv_log).run(_call(), ctx)


def test_malformed_output_is_reported_clearly(
    tmp_path: Path, ctx: StepContext, argv_log: Path
) -> None:
    with pytest.raises(ClaudeMalformedOutput, match="not a JSON result object"):
        _runner(tmp_path, "malformed", argv_log).run(_call(), ctx)
    [record] = read_records(ctx.work_dir)
    assert (record.subtype, record.is_error) == ("malformed", True)


def test_a_crash_reports_the_stderr_tail_without_the_credential(
    tmp_path: Path, ctx: StepContext, argv_log: Path
) -> None:
    with pytest.raises(ClaudeCrashed) as caught:
        _runner(tmp_path, "crash", argv_log).run(_call(), ctx)
    message = str(caught.value)
    assert "exit code 137" in message
    assert "heap out of memory" in message
    assert FAKE_KEY not in message
    meta = (ctx.work_dir / "claude" / "order-1.meta.json").read_text()
    assert FAKE_KEY not in meta
    assert read_records(ctx.work_dir)[0].subtype == "crash"


def test_a_segfault_is_a_crash(tmp_path: Path, ctx: StepContext, argv_log: Path) -> None:
    with pytest.raises(ClaudeCrashed, match="killed by signal 11"):
        _runner(tmp_path, "segfault", argv_log).run(_call(), ctx)


def test_a_missing_cli_is_a_configuration_error(ctx: StepContext, tmp_path: Path) -> None:
    runner = ClaudeRunner(double_settings(tmp_path / "no-such-claude"))
    with pytest.raises(ConfigError, match="CLAUDE_BIN"):
        runner.run(_call(), ctx)


def test_a_long_prompt_goes_through_stdin(tmp_path: Path, ctx: StepContext, argv_log: Path) -> None:
    prompt = "Order the abstractions. " + "x" * 200_000
    _runner(tmp_path, "success", argv_log).run(_call(prompt), ctx)
    [seen] = read_log(argv_log)
    assert seen["prompt"] == prompt
    assert prompt not in seen["argv"]


def test_the_command_line_allows_read_tools_only(
    tmp_path: Path, ctx: StepContext, argv_log: Path
) -> None:
    runner = _runner(
        tmp_path, "forbidden_tool", argv_log, model="claude-sonnet-4-5", max_budget_usd=0.5
    )
    # The scenario fails loudly if its command line would have let Bash run.
    runner.run(ClaudeCall(step="relationships", key="rel", prompt="p", schema={}), ctx)
    [seen] = read_log(argv_log)
    argv = seen["argv"]
    assert argv[:2] == ["-p", "p"]
    flags = _flags(argv[2:])
    assert flags["--tools"] == TOOLS == "Read,Grep,Glob"
    # An allow rule would let the tools read anywhere on the host.
    assert "--allowedTools" not in argv
    assert set(str(flags["--disallowedTools"]).split(",")) >= {
        "Bash",
        "Edit",
        "Write",
        "WebFetch",
        "WebSearch",
        "NotebookEdit",
    }
    assert flags["--disallowedTools"] == DISALLOWED_TOOLS
    assert flags["--permission-mode"] == "dontAsk"
    assert flags["--setting-sources"] == ""
    assert flags["--mcp-config"] == EMPTY_MCP
    assert flags["--strict-mcp-config"] is None
    assert flags["--output-format"] == "stream-json"
    assert flags["--verbose"] is None  # stream-json needs it
    assert flags["--max-turns"] == "30"
    assert flags["--max-budget-usd"] == "0.5"
    assert flags["--model"] == "claude-sonnet-4-5"
    assert "--bare" not in argv  # under --bare the CLI has no Grep and no Glob
    assert seen["cwd"] == str(ctx.checkout)
    # Bash is not offered at all, so the real CLI reports no permission denial for it.
    assert read_records(ctx.work_dir)[0].permission_denials == 0


def _flags(args: list[str]) -> dict[str, str | None]:
    """Each flag and its value (None for a flag that takes none)."""
    out: dict[str, str | None] = {}
    for i, arg in enumerate(args):
        if arg.startswith("--"):
            nxt = args[i + 1] if i + 1 < len(args) else "--"
            out[arg] = None if nxt.startswith("--") else nxt
    return out


def test_no_secret_of_the_worker_reaches_the_cli(
    tmp_path: Path, ctx: StepContext, argv_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CONVEX_WORKER_SECRET", "REDIS_URL", "GIT_TOKEN", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, f"leaked-{name}")
    _runner(tmp_path, "success", argv_log).run(_call(), ctx)
    [seen] = read_log(argv_log)
    env: dict[str, str] = seen["env"]
    ours = {k for k in env if not k.startswith("CLAUDE_DOUBLE_")}
    # What /bin/sh and python add on their own start-up is not ours to forbid.
    ours -= {"PWD", "SHLVL", "_", "LC_CTYPE"}
    assert ours == {
        "PATH",
        "HOME",
        "LANG",
        "TMPDIR",
        "ANTHROPIC_API_KEY",
        "DISABLE_AUTOUPDATER",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
        "ENABLE_TOOL_SEARCH",
        "NODE_EXTRA_CA_CERTS",
    } - ({"NODE_EXTRA_CA_CERTS"} if "NODE_EXTRA_CA_CERTS" not in os.environ else set())
    assert not any("leaked-" in v for v in env.values())
    assert env["ANTHROPIC_API_KEY"] == FAKE_KEY
    home = Path(env["HOME"])
    assert home.is_relative_to(ctx.work_dir)
    assert Path(env["TMPDIR"]).is_relative_to(home)
    assert not home.exists()  # thrown away after the call


def test_an_oauth_token_gets_the_same_command_line_as_an_api_key(
    tmp_path: Path, ctx: StepContext, argv_log: Path
) -> None:
    oauth = _runner(
        tmp_path, "success", argv_log, anthropic_api_key=None, oauth_token=SecretStr("oat-token")
    )
    oauth.run(_call(), ctx)
    _runner(tmp_path, "success", argv_log).run(_call(), ctx)
    with_token, with_key = read_log(argv_log)
    assert with_token["argv"] == with_key["argv"]
    assert with_token["env"]["CLAUDE_CODE_OAUTH_TOKEN"] == "oat-token"
    assert "ANTHROPIC_API_KEY" not in with_token["env"]


def test_a_step_can_have_its_own_turn_limit(
    tmp_path: Path, ctx: StepContext, argv_log: Path
) -> None:
    runner = _runner(tmp_path, "success", argv_log, max_turns=12, max_turns_order=3)
    runner.run(_call(), ctx)
    argv = read_log(argv_log)[0]["argv"]
    assert argv[argv.index("--max-turns") + 1] == "3"
    assert runner.settings.turns_for("chapters") == 12
