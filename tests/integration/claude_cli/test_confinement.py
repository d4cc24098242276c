"""What the real CLI offers the model and lets it read, with the engine's argv: exactly
Read, Grep and Glob, and nothing outside the checkout (paths, ``..``, symlinks, /proc)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from testbed.claude_api.cli import real_settings
from testbed.claude_api.server import Reply, Request, ScriptedApi, ToolUse, answer
from tests.integration.claude_cli.conftest import OTHER_JOB_SECRET, Jobs, bwrap_works, call_once

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("credential", ["api_key", "oauth"])
def test_the_model_is_offered_exactly_read_grep_glob_and_structured_output(
    jobs: Jobs, credential: str
) -> None:
    def scenario(req: Request) -> Reply:
        return answer({"answer": "ok"})

    with ScriptedApi(scenario) as api:
        out = call_once(real_settings(api.url, credential=credential), jobs.ctx())
    assert out.output == {"answer": "ok"}, out.error
    calls = api.messages()
    assert calls, "the CLI made no Messages API call"
    for req in calls:
        assert sorted(req.tool_names) == ["Glob", "Grep", "Read", "StructuredOutput"]
        assert req.schema is not None
        assert req.schema["title"] == "Probe"
    header = "x-api-key" if credential == "api_key" else "authorization"
    assert header in {k.lower() for k in calls[0].raw_headers}


def _outside_reads(jobs: Jobs) -> list[ToolUse]:
    link = jobs.checkout / "docs-link.py"
    link.symlink_to(jobs.other_checkout / "secret.py")
    dotdot = f"{jobs.checkout}/../../job-b/checkout/secret.py"
    return [
        ToolUse("Read", {"file_path": "/etc/hostname"}),
        ToolUse("Read", {"file_path": str(link)}),
        ToolUse("Read", {"file_path": dotdot}),
        ToolUse("Read", {"file_path": "/proc/self/environ"}),
        ToolUse("Read", {"file_path": f"/proc/{os.getpid()}/environ"}),
        ToolUse("Grep", {"pattern": "KEY", "path": str(jobs.other_checkout)}),
        ToolUse("Glob", {"pattern": "**/*.py", "path": str(jobs.root)}),
        # One read inside: the fence must not stop the model doing its work.
        ToolUse("Read", {"file_path": str(jobs.checkout / "shop" / "cart.py")}),
    ]


@pytest.mark.parametrize("sandbox", ["off", "bwrap"])
def test_reads_outside_the_checkout_are_denied_including_symlinks_dotdot_and_proc(
    jobs: Jobs, sandbox: str
) -> None:
    if sandbox == "bwrap" and not bwrap_works():
        pytest.skip("bubblewrap cannot create namespaces on this machine")
    tools = _outside_reads(jobs)

    def scenario(req: Request) -> Reply:
        if req.turn == 0:
            return Reply(text="Looking around.", tools=tuple(tools))
        return answer({"answer": "done"})

    with ScriptedApi(scenario) as api:
        out = call_once(real_settings(api.url, sandbox=sandbox), jobs.ctx())
    assert out.output == {"answer": "done"}, out.error
    assert out.envelope is not None
    denied = [(d["tool_name"], d["tool_input"]) for d in out.envelope.permission_denials]
    results = api.messages()[-1].results_in_call_order()
    assert len(results) == len(tools)
    for tool, result in zip(tools[:-1], results[:-1], strict=True):
        assert result.get("is_error") is True, (tool, result)
        if "/proc/" in str(tool.input):
            # The Read tool refuses process files itself, before any permission rule.
            assert "process file" in str(result["content"])
        else:
            assert str(result["content"]).startswith(f"Permission to use {tool.name} has been")
    # The CLI reports each denial (its path normalised): the five outside /proc.
    assert sorted(name for name, _ in denied) == ["Glob", "Grep", "Read", "Read", "Read"]
    seen = api.log_text()
    assert "class Cart" in str(results[-1]["content"])  # the read inside came back
    assert OTHER_JOB_SECRET not in seen
    assert Path("/etc/hostname").read_text().strip() not in _tool_result_text(results[:-1])
    assert "PATH=" not in seen
    assert "HOME=" not in seen


def _tool_result_text(results: list[dict[str, object]]) -> str:
    return "\n".join(str(r.get("content")) for r in results)
