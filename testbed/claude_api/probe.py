"""Probe how the real CLI ends a call when the API says no, and print what it did.

``python -m testbed.claude_api.probe CASE [--oauth] [--kill-after-s S] [--arg X]`` runs
one call of the pinned CLI, with the engine's argv, against the scripted API answering
CASE; it prints, as JSON, the exit code, the call's wall time, the time of every request
the CLI made, the result object's error fields and the stderr tail. docs/CLAUDE.md
("When the API says no") was written from these runs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analysis.claude.runner import ClaudeCall, ClaudeRunner, claude_dir
from analysis.claude.transcript import result_document
from analysis.engine import StepContext
from testbed.claude_api import limits
from testbed.claude_api.cli import real_settings
from testbed.claude_api.server import Failure, Reply, Request, Scenario, ScriptedApi, answer
from testbed.gitrepo import make_repo

_SCHEMA: dict[str, Any] = {
    "title": "Probe",
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}


def _ok(req: Request) -> Reply:
    return answer({"answer": "ok"})


def _always(failure: Callable[[], Failure]) -> Scenario:
    return lambda req: failure()


def _cases(arg: float) -> dict[str, Scenario]:
    reset = int(time.time() + arg)
    return {
        "429": _always(limits.rate_limited),
        "429-retry-after": limits.failing_first(1, lambda: limits.rate_limited(arg), _ok),
        "429-retry-after-always": _always(lambda: limits.rate_limited(arg)),
        "429-unified": _always(lambda: limits.rate_limited(unified_reset_epoch_s=reset)),
        "429-unified-retry-after": _always(
            lambda: limits.rate_limited(arg, unified_reset_epoch_s=reset)
        ),
        "529": _always(limits.overloaded),
        "401": _always(limits.unauthorized),
        "403": _always(limits.forbidden),
        "spend-limit": _always(limits.spend_limit),
        "no-credit": _always(limits.no_credit),
        "402": _always(limits.billing_error),
        "400": _always(limits.invalid_request),
    }


def _result_event(text: str) -> dict[str, Any]:
    """The result object, from the json format's document or stream-json's last event."""
    doc = result_document(text)
    events = doc if isinstance(doc, list) else [doc]
    results = [e for e in events if isinstance(e, dict) and e.get("type") == "result"]
    return results[-1] if results else {}


def probe(case: str, *, oauth: bool, kill_after_s: float, arg: float) -> dict[str, Any]:
    scenario = _cases(arg)[case]
    with tempfile.TemporaryDirectory(prefix="claude-probe-") as tmp, ScriptedApi(scenario) as api:
        checkout = make_repo(Path(tmp) / "checkout")
        ctx = StepContext(job_id="probe", checkout=checkout, prompt="", work_dir=Path(tmp) / "w")
        settings = real_settings(
            api.url, credential="oauth" if oauth else "api_key", timeout_s=kill_after_s
        )
        runner = ClaudeRunner(settings)
        runner.start()
        started = time.monotonic()
        error = None
        try:
            runner.run(ClaudeCall("abstractions", "probe", "Probe.", _SCHEMA), ctx)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        took_s = time.monotonic() - started
        raw = claude_dir(ctx.work_dir) / "probe-1.json"
        meta_path = claude_dir(ctx.work_dir) / "probe-1.meta.json"
        doc = _result_event(raw.read_text()) if raw.exists() and raw.stat().st_size else {}
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        requests = [round(r.at - started, 1) for r in api.messages()]
    keep = ("subtype", "is_error", "api_error_status", "api_error_type", "api_error",
            "terminal_reason", "result", "errors")  # fmt: skip
    return {
        "case": case,
        "credential": "oauth" if oauth else "api_key",
        "arg": arg,
        "took_s": round(took_s, 1),
        "returncode": meta.get("returncode"),
        "requests_at_s": requests,
        "result": {k: doc[k] for k in keep if k in doc},
        "extra_keys": sorted(set(doc) - set(keep)),
        "stderr_tail": meta.get("stderr_tail", ""),
        "error": error,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("case")
    parser.add_argument("--oauth", action="store_true")
    parser.add_argument("--kill-after-s", type=float, default=300.0)
    parser.add_argument("--arg", type=float, default=60.0, help="retry-after or reset, s")
    args = parser.parse_args()
    out = probe(args.case, oauth=args.oauth, kill_after_s=args.kill_after_s, arg=args.arg)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
