"""Each Claude call through the fleet's gate: wait for a slot (or for a pause to end),
run the call, tell the fleet when the API refused it, count what it cost.

A wait shorter than CLAUDE_STEP_WAIT_S happens inside the step, which keeps its lease
(the watchdog beats, the bridge renews) and its worker slot. A longer one raises
``WorkDeferred``: the step gives its job back to run again when the wait ends, spending
no attempt and freeing its worker for other work. A refused call is asked again after
the pause it caused, never counted as a failure; what a call costs is added to its job's
total, and a job that reaches CLAUDE_JOB_BUDGET_USD fails for good.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TypeVar

from analysis.claude.gate import FleetGate, Verdict
from analysis.claude.records import CallRecord, read_records
from analysis.claude.refusals import (
    ClaudeCredentialRejected,
    ClaudeRefused,
    ClaudeSpendLimit,
)
from analysis.claude.settings import ClaudeSettings
from analysis.engine import StepContext
from fondation.claude_fleet import NO_END, read_pause
from fondation.clock import SYSTEM_CLOCK, Clock
from fondation.errors import PermanentError, WorkDeferred

log = logging.getLogger(__name__)

POLL_S = 0.2


class JobBudgetSpent(PermanentError):
    """The job's calls reached CLAUDE_JOB_BUDGET_USD."""


T = TypeVar("T")
# One call, given the hook that counts its cost record.
Call = Callable[[Callable[[CallRecord], None]], T]


class CallGuard:
    """Runs calls for one engine; ``gate`` is None where no Redis is shared (the calls
    then run unpaced, and a refusal is a transient failure of the step)."""

    def __init__(self, settings: ClaudeSettings, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.settings = settings
        self.clock = clock
        self._gates: dict[int, FleetGate] = {}
        # Which credential this worker uses, as a short digest: the fleet's pause records
        # it, so that workers restarted with another one know the pause is not theirs.
        name, value = settings.credential()
        self._credential_id = hashlib.sha256(f"{name}={value}".encode()).hexdigest()[:12]

    def gate_for(self, ctx: StepContext) -> FleetGate | None:
        if ctx.redis is None:
            return None
        gate = self._gates.get(id(ctx.redis))
        if gate is None:
            s = self.settings
            gate = FleetGate(
                ctx.redis,
                max_calls=s.max_calls,
                calls_per_minute=s.calls_per_minute,
                # A call cannot outlive its timeout and the kill grace after it.
                call_ttl_ms=int((s.timeout_s + s.kill_grace_s + 30) * 1000),
            )
            self._gates = {id(ctx.redis): gate}
            self._lift_pause_of_another_credential(gate)
        return gate

    def _lift_pause_of_another_credential(self, gate: FleetGate) -> None:
        """Workers restarted with a new credential lift the pause the old one caused."""
        pause = read_pause(gate.redis)
        if pause is None or pause.reason != "credential":
            return
        if pause.credential != self._credential_id and gate.resume():
            log.info("Claude credential changed: the fleet's credential pause is lifted")

    def run(self, ctx: StepContext, call: Call[T]) -> T:
        """``call``'s answer; ``call`` gets the hook that counts each record's cost."""
        gate = self.gate_for(ctx)
        while True:
            self._check_budget(ctx, gate)
            if gate is None:
                return call(lambda record: self._count(ctx, None, record))
            ticket = gate.ticket(ctx.job_id, ctx.user_id or ctx.job_id)
            try:
                self._wait_for_slot(ctx, gate, ticket)
                try:
                    answer = call(lambda record: self._count(ctx, gate, record))
                except ClaudeRefused as exc:
                    self._refused(ctx, gate, exc)
                    continue  # asked again once the pause allows
            finally:
                gate.leave(ticket)
            if gate.succeeded(self.clock.now_ms()):
                log.info("Claude answers again: the fleet's pause is lifted",
                         extra={"job_id": ctx.job_id})  # fmt: skip
            return answer

    # --- waiting ----------------------------------------------------------------------

    def _wait_for_slot(self, ctx: StepContext, gate: FleetGate, ticket: str) -> None:
        started = self.clock.monotonic()
        told: tuple[str | None, str] | None = None
        while True:
            ctx.cancel.check()
            now = self.clock.now_ms()
            verdict = gate.ask(ticket, now)
            if verdict.go:
                return
            waited_s = self.clock.monotonic() - started
            if self._too_long(verdict, now, waited_s):
                raise self._deferral(verdict, now)
            if told != (verdict.hold, verdict.reason):
                told = (verdict.hold, verdict.reason)
                _note(ctx, _waiting_line(verdict))
            ctx.cancel.wait(POLL_S)

    def _too_long(self, verdict: Verdict, now_ms: int, waited_s: float) -> bool:
        limit_s = self.settings.step_wait_s
        if verdict.hold == "pause":
            return verdict.until_ms == NO_END or verdict.until_ms - now_ms > limit_s * 1000
        return waited_s >= limit_s

    def _deferral(self, verdict: Verdict, now_ms: int) -> WorkDeferred:
        s = self.settings
        if verdict.hold in ("pause", "probe") and verdict.until_ms != NO_END:
            until, known = max(verdict.until_ms, now_ms), verdict.hold == "pause"
        elif verdict.hold in ("pause", "probe"):
            until, known = now_ms + int(s.probe_interval_s * 1000), False
        else:
            until, known = now_ms + int(max(s.step_wait_s, 5.0) * 1000), False
        reason = verdict.reason if verdict.hold in ("pause", "probe") else "capacity"
        return WorkDeferred(
            f"waiting for Claude ({reason}); the job runs again when the wait ends",
            reason=reason,
            until_ms=until,
            until_known=known,
        )

    # --- refusals and cost ---------------------------------------------------------------

    def _refused(self, ctx: StepContext, gate: FleetGate, exc: ClaudeRefused) -> None:
        now = self.clock.now_ms()
        until = exc.until_ms
        if isinstance(exc, ClaudeSpendLimit):
            until = NO_END
        elif isinstance(exc, ClaudeCredentialRejected):
            until = now + int(self.settings.probe_interval_s * 1000)
        log.warning("Claude refused a call (%s): %s", exc.reason, exc,
                    extra={"job_id": ctx.job_id})  # fmt: skip
        gate.pause(exc.reason, until, now, str(exc), self._credential_id)

    def _count(self, ctx: StepContext, gate: FleetGate | None, record: CallRecord) -> None:
        if gate is not None and record.total_cost_usd:
            gate.add_cost(ctx.job_id, record.total_cost_usd, self.clock.now_ms())
        self._check_budget(ctx, gate)

    def _check_budget(self, ctx: StepContext, gate: FleetGate | None) -> None:
        budget = self.settings.job_budget_usd
        if budget is None:
            return
        if gate is not None:
            spent = gate.job_cost(ctx.job_id)
        else:
            spent = sum(r.total_cost_usd for r in read_records(ctx.work_dir))
        if spent >= budget:
            raise JobBudgetSpent(
                f"the job's Claude calls cost ${spent:.2f}, which reaches its budget "
                f"CLAUDE_JOB_BUDGET_USD=${budget:g}; raise the budget and retry the job"
            )


def _waiting_line(verdict: Verdict) -> str:
    if verdict.hold == "pause":
        return f"Waiting for Claude: the fleet is paused ({verdict.reason})"
    if verdict.hold == "probe":
        return f"Waiting for Claude: another call checks whether the {verdict.reason} has passed"
    if verdict.hold == "pace":
        return "Waiting for Claude: the fleet's calls per minute are spent"
    return "Waiting for Claude: every slot of the fleet is busy"


def _note(ctx: StepContext, line: str) -> None:
    if ctx.note is not None:
        ctx.note(line)
