"""The fleet's Claude gate on a real Redis: capacity, fairness between users and jobs,
pacing, pauses with their probe, and what the operator reads back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from analysis.claude.gate import FleetGate
from fondation.claude_fleet import NO_END, fleet_state, read_pause

pytestmark = pytest.mark.integration

T0 = 1_800_000_000_000


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def _gate(client: redis.Redis, max_calls: int = 2, per_minute: int | None = None) -> FleetGate:
    return FleetGate(client, max_calls=max_calls, calls_per_minute=per_minute, call_ttl_ms=60_000)


def test_no_more_calls_run_than_the_fleet_allows(client: redis.Redis) -> None:
    gate = _gate(client, max_calls=2)
    tickets = [gate.ticket(f"job-{i}", f"user-{i}") for i in range(3)]
    assert [gate.ask(t, T0).go for t in tickets] == [True, True, False]
    assert gate.ask(tickets[2], T0).hold == "capacity"
    gate.leave(tickets[0])
    assert gate.ask(tickets[2], T0 + 1).go


def test_a_freed_slot_goes_to_the_user_with_the_fewest_calls_running(client: redis.Redis) -> None:
    gate = _gate(client, max_calls=2)
    busy = [gate.ticket(f"job-a{i}", "alice") for i in range(4)]
    assert gate.ask(busy[0], T0).go
    assert gate.ask(busy[1], T0).go
    # Alice's next two jobs waited first; Bob's one job comes later.
    assert not gate.ask(busy[2], T0 + 1).go
    assert not gate.ask(busy[3], T0 + 2).go
    bob = gate.ticket("job-b", "bob")
    assert not gate.ask(bob, T0 + 3).go
    gate.leave(busy[0])
    assert gate.ask(busy[2], T0 + 4).hold == "turn"  # Alice already runs one
    assert gate.ask(bob, T0 + 4).go


def test_between_jobs_of_one_user_the_job_with_fewer_calls_goes_first(client: redis.Redis) -> None:
    gate = _gate(client, max_calls=1)
    first = gate.ticket("job-1", "alice")
    assert gate.ask(first, T0).go
    same_job = gate.ticket("job-1", "alice")
    other_job = gate.ticket("job-2", "alice")
    assert not gate.ask(same_job, T0 + 1).go
    assert not gate.ask(other_job, T0 + 2).go
    gate.leave(first)
    # Neither job runs anything now: the oldest waiter goes.
    assert gate.ask(other_job, T0 + 3).hold == "turn"
    assert gate.ask(same_job, T0 + 3).go


def test_a_waiter_that_stops_asking_loses_its_place(client: redis.Redis) -> None:
    gate = _gate(client, max_calls=1)
    holder, gone, patient = (gate.ticket(f"job-{i}", f"u{i}") for i in range(3))
    assert gate.ask(holder, T0).go
    assert not gate.ask(gone, T0 + 1).go
    assert not gate.ask(patient, T0 + 2).go
    gate.leave(holder)
    assert gate.ask(patient, T0 + 20_000).go  # `gone` stopped asking 20 s ago


def test_a_holder_that_died_frees_its_slot_when_its_call_would_have_ended(
    client: redis.Redis,
) -> None:
    gate = _gate(client, max_calls=1)
    dead, alive = gate.ticket("job-1", "u1"), gate.ticket("job-2", "u2")
    assert gate.ask(dead, T0).go
    assert not gate.ask(alive, T0 + 59_000).go
    assert gate.ask(alive, T0 + 60_001).go


def test_pacing_holds_calls_past_the_minutes_quota_until_the_oldest_start_is_a_minute_old(
    client: redis.Redis,
) -> None:
    gate = _gate(client, max_calls=10, per_minute=2)
    a, b, c = (gate.ticket(f"job-{i}", f"u{i}") for i in range(3))
    assert gate.ask(a, T0).go
    assert gate.ask(b, T0 + 10).go
    gate.leave(a)
    gate.leave(b)
    verdict = gate.ask(c, T0 + 1_000)
    assert (verdict.hold, verdict.until_ms) == ("pace", T0 + 60_000)
    assert gate.ask(c, T0 + 60_000).go


def test_a_pause_stops_every_call_until_its_end_then_lets_one_probe_through(
    client: redis.Redis,
) -> None:
    gate = _gate(client, max_calls=4)
    gate.pause("usage_limit", T0 + 60_000, T0, "You've hit your limit")
    first, second = gate.ticket("job-1", "u1"), gate.ticket("job-2", "u2")
    verdict = gate.ask(first, T0 + 1)
    assert (verdict.hold, verdict.reason, verdict.until_ms) == ("pause", "usage_limit", T0 + 60_000)
    assert gate.ask(first, T0 + 60_000).go  # the probe
    assert gate.ask(second, T0 + 60_001).hold == "probe"
    assert gate.succeeded(T0 + 61_000)
    assert read_pause(client) is None
    assert gate.ask(second, T0 + 61_001).go


def test_a_failed_probe_pauses_again_for_longer(client: redis.Redis) -> None:
    gate = _gate(client)
    gate.pause("rate_limit", None, T0, "429")
    first = read_pause(client)
    assert first is not None
    assert first.until_ms == T0 + 15_000
    gate.pause("rate_limit", None, first.until_ms + 1, "429 again")
    second = read_pause(client)
    assert second is not None
    assert (second.strikes, second.until_ms) == (1, first.until_ms + 1 + 30_000)
    assert second.since_ms == T0


def test_a_weaker_reason_does_not_shorten_a_stronger_pause(client: redis.Redis) -> None:
    gate = _gate(client)
    gate.pause("spend", NO_END, T0, "credit balance is too low")
    gate.pause("rate_limit", T0 + 60_000, T0 + 1, "429")
    pause = read_pause(client)
    assert pause is not None
    assert (pause.reason, pause.until_ms) == ("spend", NO_END)
    assert gate.ask(gate.ticket("j", "u"), T0 + 3_600_000).hold == "pause"
    assert not gate.succeeded(T0 + 3_600_000)  # a pause with no end is lifted by an operator
    assert gate.resume()
    assert read_pause(client) is None


def test_the_operator_reads_calls_running_and_waiting_the_pause_and_the_hours_cost(
    client: redis.Redis,
) -> None:
    gate = _gate(client, max_calls=1)
    running, waiting = gate.ticket("job-1", "u1"), gate.ticket("job-2", "u2")
    assert gate.ask(running, T0).go
    assert not gate.ask(waiting, T0).go
    assert gate.add_cost("job-1", 0.25, T0) == 0.25
    assert gate.add_cost("job-1", 0.5, T0 + 30_000) == 0.75
    gate.add_cost("job-2", 9.0, T0 - 2 * 3_600_000)  # long ago: not in the hour
    gate.pause("overloaded", T0 + 5_000, T0, "529")
    state = fleet_state(client, T0 + 40_000)
    assert (state.running, state.waiting, state.cost_last_hour_usd) == (1, 1, 0.75)
    assert state.pause is not None
    assert state.pause.reason == "overloaded"
    assert gate.job_cost("job-1") == 0.75
