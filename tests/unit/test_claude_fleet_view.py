"""The ``claude`` check of /health, from the fleet's state: it fails only while an
operator must act, and says why the calls wait and until when."""

from __future__ import annotations

from bridge.claude_fleet import check_fields
from fondation.claude_fleet import NO_END, FleetState, Pause

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z


def _state(pause: Pause | None) -> FleetState:
    return FleetState(running=2, waiting=5, pause=pause, cost_last_hour_usd=1.25)


def test_no_pause_is_healthy_and_counts_the_calls_and_the_hours_cost() -> None:
    ok, detail, value = check_fields(_state(None), T0)
    assert ok
    assert detail == "2 calls running, 5 waiting, $1.25 in the last hour"
    assert value["pause"] is None


def test_a_rate_limit_is_healthy_and_says_until_when() -> None:
    pause = Pause("rate_limit", T0 + 60_000, T0, 0, "API Error: Request rejected (429)")
    ok, detail, value = check_fields(_state(pause), T0)
    assert ok
    assert detail.startswith("paused (rate_limit) until 2027-01-15T08:01:00Z: API Error")
    assert value["pause"]["until"] == "2027-01-15T08:01:00Z"


def test_a_pause_past_its_end_waits_for_a_probe_call() -> None:
    pause = Pause("usage_limit", T0 - 1_000, T0 - 3_600_000, 0, "You've hit your limit")
    ok, detail, _ = check_fields(_state(pause), T0)
    assert ok
    assert "waiting for a probe call" in detail


def test_a_rejected_credential_fails_the_check_and_says_what_to_do() -> None:
    pause = Pause("credential", T0 + 300_000, T0, 0, "Invalid API key")
    ok, detail, _ = check_fields(_state(pause), T0)
    assert not ok
    assert "renew the credential and restart the workers" in detail


def test_a_spend_limit_fails_the_check_until_an_operator_acts() -> None:
    pause = Pause("spend", NO_END, T0, 0, "Credit balance is too low")
    ok, detail, value = check_fields(_state(pause), T0)
    assert not ok
    assert "until an operator acts" in detail
    assert "fondation claude-resume" in detail
    assert value["pause"]["until"] is None
