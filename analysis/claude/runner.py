"""One call of the Claude Code CLI: the command line, the child's environment, the raw
output kept on disk, and the cost record.

Every call's stdout (its stream-json transcript) is kept as
``<work_dir>/claude/<call>-<attempt>.json`` (with a
``.meta.json`` beside it: exit code, redacted stderr tail, prompt) so that a run can be
parsed again with ``replay`` without paying for it twice.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.claude.command import build_argv, child_env
from analysis.claude.process import Finished, ProcessTimeout, run_in_group
from analysis.claude.records import CallRecord, append_record
from analysis.claude.refusals import CallEnd, classify
from analysis.claude.result import (
    ClaudeCallFailed,
    ClaudeTimeout,
    ResultEnvelope,
    parse_envelope,
    stderr_tail,
    structured_output,
)
from analysis.claude.sandbox import resolve_bin, wrap
from analysis.claude.settings import ClaudeSettings, StepName
from analysis.claude.transcript import CallReads, read_transcript, without_tool_results
from analysis.claude.version import check_version
from analysis.engine import StepContext
from fondation.clock import SYSTEM_CLOCK, Clock
from fondation.errors import ConfigError, JobCanceled

log = logging.getLogger(__name__)

# Linux refuses a single argument longer than 128 KiB (MAX_ARG_STRLEN): longer prompts
# go through stdin instead.
_MAX_PROMPT_ARG_BYTES = 100_000
# Enough for --version, and no more of the worker's environment.
_PROBE_ENV_NAMES = ("PATH", "LANG")


@dataclass(frozen=True)
class ClaudeCall:
    step: StepName
    key: str  # names the raw files and the cache entry: "abstractions", "chapter-02-cart"
    prompt: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class TracedAnswer:
    output: dict[str, Any]  # the structured output
    reads: CallReads  # what the call's tools read, from its transcript


def claude_dir(work_dir: Path) -> Path:
    return work_dir / "claude"


def _claim_attempt(out_dir: Path, key: str) -> tuple[int, Path]:
    """The next free ``<key>-<n>.json``, created empty so no other thread takes it."""
    n = 1
    while True:
        path = out_dir / f"{key}-{n}.json"
        try:
            path.touch(exist_ok=False)
        except FileExistsError:
            n += 1
            continue
        return n, path


class ClaudeRunner:
    def __init__(self, settings: ClaudeSettings, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.settings = settings
        self.clock = clock
        self.sandboxed = False
        self.cli_version: str | None = None
        self._cli_path = settings.bin

    def start(self) -> str:
        """Check the installed CLI and choose the sandbox, once when the engine is built;
        ``ConfigError`` for an unsupported CLI or a required sandbox that cannot start."""
        s = self.settings
        env = {k: os.environ[k] for k in _PROBE_ENV_NAMES if k in os.environ}
        env |= {"DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
        self.cli_version = check_version([s.bin, "--version"], env)
        self._cli_path = resolve_bin(s.bin)
        if s.sandbox != "off":
            self.sandboxed = self._sandbox_works(env)
        log.info(
            "Claude Code %s at %s, sandbox %s",
            self.cli_version,
            self._cli_path,
            "bubblewrap" if self.sandboxed else "off",
        )
        return self.cli_version

    def _sandbox_works(self, env: dict[str, str]) -> bool:
        with tempfile.TemporaryDirectory(prefix="claude-sandbox-probe-") as probe:
            argv = wrap(
                [self._cli_path, "--version"],
                bwrap=self.settings.bwrap_bin,
                checkout=Path(probe),
                home=Path(probe),
            )
            try:
                check_version(argv, env, setting="CLAUDE_SANDBOX")
            except ConfigError as exc:
                if self.settings.sandbox == "bwrap":
                    raise ConfigError(
                        f"CLAUDE_SANDBOX=bwrap: bubblewrap cannot run the CLI here: {exc}"
                    ) from exc
                log.warning("CLAUDE_SANDBOX=auto: running without bubblewrap: %s", exc)
                return False
        return True

    def argv(
        self, call: ClaudeCall, *, prompt_in_argv: bool, checkout: Path, home: Path
    ) -> list[str]:
        s = self.settings
        cmd = build_argv(
            s,
            prompt=call.prompt if prompt_in_argv else None,
            schema=call.schema,
            max_turns=s.turns_for(call.step),
        )
        if not self.sandboxed:
            return cmd
        extra = (s.node_extra_ca_certs,) if s.node_extra_ca_certs else ()
        return wrap(
            [self._cli_path, *cmd[1:]],
            bwrap=s.bwrap_bin,
            checkout=checkout,
            home=home,
            extra_ro=extra,
        )

    def child_env(self, home: Path, tmp: Path) -> dict[str, str]:
        return child_env(self.settings, home=home, tmp=tmp)

    def _secrets(self) -> list[str]:
        return [self.settings.credential()[1]]

    def run(
        self,
        call: ClaudeCall,
        ctx: StepContext,
        on_record: Callable[[CallRecord], None] | None = None,
    ) -> dict[str, Any]:
        """The call's structured output. Raises ``ClaudeCallFailed`` (retryable answer
        errors), ``ClaudeRefused`` (the API refused: the fleet waits),
        ``ClaudeInvalidRequest``, ``ClaudeTimeout``, ``JobCanceled`` or ``ConfigError``.
        ``on_record`` gets the call's cost record once the CLI has printed it."""
        return self.run_traced(call, ctx, on_record).output

    def run_traced(
        self,
        call: ClaudeCall,
        ctx: StepContext,
        on_record: Callable[[CallRecord], None] | None = None,
    ) -> TracedAnswer:
        """As ``run``, with what the call read, from its transcript."""
        out_dir = claude_dir(ctx.work_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        attempt, raw_path = _claim_attempt(out_dir, call.key)
        # A private, throw-away home: no user-level settings, hooks or credentials files
        # reach the call, and parallel calls do not share session files.
        home = out_dir / "home" / f"{call.key}-{attempt}"
        tmp = home / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        in_argv = len(call.prompt.encode("utf-8")) <= _MAX_PROMPT_ARG_BYTES
        argv = self.argv(call, prompt_in_argv=in_argv, checkout=ctx.checkout, home=home)
        try:
            finished = self._spawn(argv, call, ctx, home, tmp, in_argv)
        except ProcessTimeout as exc:
            self._record_local(ctx, call, attempt, "timeout", self.settings.timeout_s)
            raise ClaudeTimeout(f"claude call {call.key} timed out: {exc}") from exc
        except JobCanceled:
            self._record_local(ctx, call, attempt, "canceled", 0.0)
            raise
        finally:
            shutil.rmtree(home, ignore_errors=True)
        raw_path.write_bytes(without_tool_results(finished.stdout))
        self._write_meta(raw_path, call, finished)
        output = self._interpret(ctx, call, attempt, finished, on_record)
        return TracedAnswer(output, read_transcript(finished.stdout, ctx.checkout))

    def _spawn(
        self,
        argv: list[str],
        call: ClaudeCall,
        ctx: StepContext,
        home: Path,
        tmp: Path,
        in_argv: bool,
    ) -> Finished:
        try:
            return run_in_group(
                argv,
                cwd=ctx.checkout,
                env=self.child_env(home, tmp),
                stdin=None if in_argv else call.prompt.encode("utf-8"),
                timeout_s=self.settings.timeout_s,
                cancel=ctx.cancel,
                grace_s=self.settings.kill_grace_s,
                groups=ctx.process_groups,
            )
        except OSError as exc:
            raise ConfigError(f"CLAUDE_BIN: cannot run {self.settings.bin!r}: {exc}") from exc

    def _interpret(
        self,
        ctx: StepContext,
        call: ClaudeCall,
        attempt: int,
        finished: Finished,
        on_record: Callable[[CallRecord], None] | None,
    ) -> dict[str, Any]:
        try:
            envelope = parse_envelope(
                finished.stdout, finished.returncode, finished.stderr_tail, self._secrets()
            )
        except ClaudeCallFailed:
            kind = "malformed" if finished.returncode == 0 else "crash"
            self._record_local(ctx, call, attempt, kind, finished.duration_ms / 1000)
            raise
        record = _record(call, attempt, envelope, finished.duration_ms)
        append_record(ctx.work_dir, record)
        if on_record is not None:
            on_record(record)
        wait_ms = int(self.settings.rate_limit_wait_s * 1000)
        refusal = classify(envelope, CallEnd(finished.duration_ms, self.clock.now_ms(), wait_ms))
        if refusal is not None:
            raise refusal
        return structured_output(envelope, finished.returncode)

    def _record_local(
        self, ctx: StepContext, call: ClaudeCall, attempt: int, subtype: str, seconds: float
    ) -> None:
        # No result object: the CLI's own cost is unknown, the wall time is ours.
        append_record(
            ctx.work_dir,
            CallRecord(
                step=call.step,
                call=call.key,
                attempt=attempt,
                subtype=subtype,
                is_error=True,
                duration_ms=int(seconds * 1000),
            ),
        )

    def _write_meta(self, raw_path: Path, call: ClaudeCall, finished: Finished) -> None:
        meta = {
            "returncode": finished.returncode,
            "stderr_tail": stderr_tail(finished.stderr_tail, self._secrets()),
            "duration_ms": finished.duration_ms,
            "step": call.step,
            "call": call.key,
            "prompt": call.prompt,
            "schema_title": call.schema.get("title"),
        }
        _meta_path(raw_path).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def _meta_path(raw_path: Path) -> Path:
    return raw_path.with_name(raw_path.stem + ".meta.json")


def _record(call: ClaudeCall, attempt: int, env: ResultEnvelope, wall_ms: int) -> CallRecord:
    return CallRecord(
        step=call.step,
        call=call.key,
        attempt=attempt,
        subtype=env.subtype,
        is_error=env.is_error,
        total_cost_usd=env.total_cost_usd,
        num_turns=env.num_turns,
        duration_ms=env.duration_ms or wall_ms,
        usage=env.usage,
        session_id=env.session_id,
        permission_denials=len(env.permission_denials),
    )


def replay(path: Path) -> tuple[ResultEnvelope, dict[str, Any]]:
    """Parse a kept raw output again: the envelope and the structured output, or the same
    error the live call raised. The exit code comes from the ``.meta.json`` beside it."""
    meta_path = _meta_path(path)
    returncode = 0
    stderr = b""
    if meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        returncode = int(meta.get("returncode", 0))
        stderr = str(meta.get("stderr_tail", "")).encode("utf-8")
    envelope = parse_envelope(path.read_bytes(), returncode, stderr, [])
    return envelope, structured_output(envelope, returncode)
