"""The fleet's Claude calls, shared through the workers' Redis: at most CLAUDE_MAX_CALLS
run at once, at most CLAUDE_CALLS_PER_MINUTE start per minute, and none starts while the
fleet is paused (a limit, an overload, a rejected credential, a spend limit).

Every decision is one Lua script, so that workers on several hosts agree. A slot goes to
the waiting call whose user, then whose job, runs the fewest calls, the oldest first:
one user's twenty jobs do not run ahead of another user's one. A holder's entry expires
on its own (a call cannot outlive CLAUDE_TIMEOUT_S) and a waiter's when it stops asking,
so a worker that dies frees what it held.

A pause lasts until its end; past it, one call at a time is let through (a probe) until
one succeeds, which lifts the pause; a failed probe pauses again, for longer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import redis

from fondation import keys
from fondation.claude_fleet import PAUSE_REASONS, PauseReason

# Why a call may not start now.
Hold = Literal["pause", "probe", "capacity", "pace", "turn"]

_ACQUIRE = """
local running, waiting, seen, starts, pause = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local member = ARGV[1]
local now, max, per_minute = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local call_ttl, waiter_ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', running, '-inf', now)
for _, m in ipairs(redis.call('ZRANGEBYSCORE', seen, '-inf', now - waiter_ttl)) do
  redis.call('ZREM', waiting, m)
  redis.call('ZREM', seen, m)
end
if not redis.call('ZSCORE', waiting, member) then redis.call('ZADD', waiting, now, member) end
redis.call('ZADD', seen, now, member)
local p = redis.call('HMGET', pause, 'until_ms', 'reason')
if p[2] then
  local until_ms = tonumber(p[1])
  if until_ms < 0 or now < until_ms then return {'pause', p[2], tostring(until_ms)} end
  if redis.call('ZCARD', running) > 0 then return {'probe', p[2], tostring(until_ms)} end
end
if redis.call('ZCARD', running) >= max then return {'capacity', '', '0'} end
if per_minute > 0 then
  redis.call('ZREMRANGEBYSCORE', starts, '-inf', now - 60000)
  if redis.call('ZCARD', starts) >= per_minute then
    local first = redis.call('ZRANGE', starts, 0, 0, 'WITHSCORES')
    return {'pace', '', tostring(tonumber(first[2]) + 60000)}
  end
end
local users, jobs = {}, {}
for _, m in ipairs(redis.call('ZRANGE', running, 0, -1)) do
  local _, _, job, user = string.find(m, '^[^|]*|([^|]*)|(.*)$')
  users[user] = (users[user] or 0) + 1
  jobs[job] = (jobs[job] or 0) + 1
end
local best, bu, bj, bs = nil, 0, 0, 0
local all = redis.call('ZRANGE', waiting, 0, -1, 'WITHSCORES')
for i = 1, #all, 2 do
  local m, since = all[i], tonumber(all[i + 1])
  local _, _, job, user = string.find(m, '^[^|]*|([^|]*)|(.*)$')
  local u, j = users[user] or 0, jobs[job] or 0
  if best == nil or u < bu or (u == bu and (j < bj or (j == bj and since < bs))) then
    best, bu, bj, bs = m, u, j, since
  end
end
if best ~= member then return {'turn', '', '0'} end
redis.call('ZREM', waiting, member)
redis.call('ZREM', seen, member)
redis.call('ZADD', running, now + call_ttl, member)
if per_minute > 0 then redis.call('ZADD', starts, now, member) end
return {'go', '', '0'}
"""

# ARGV: reason, until_ms (NO_END, 0: back off, else the end), now, base_ms, cap_ms, detail,
# rank (higher wins over a lower reason still in force), the refused credential's name.
_PAUSE = """
local pause = KEYS[1]
local reason, until_ms, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local base, cap, detail, rank = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local credential = ARGV[8]
local cur = redis.call('HMGET', pause, 'reason', 'until_ms', 'strikes', 'rank', 'since_ms')
local strikes = 0
local since = now
if cur[1] then
  local cur_until, cur_rank = tonumber(cur[2]), tonumber(cur[4])
  local in_force = cur_until < 0 or now < cur_until
  if in_force and cur_rank > rank then return 0 end
  since = tonumber(cur[5])
  strikes = tonumber(cur[3])
  if not in_force then strikes = strikes + 1 end
end
if until_ms == 0 then
  until_ms = now + math.min(cap, base * math.pow(2, strikes))
end
if cur[1] and cur[1] == reason then
  local cur_until = tonumber(cur[2])
  if cur_until < 0 or (until_ms >= 0 and cur_until > until_ms) then until_ms = cur_until end
end
redis.call('HSET', pause, 'reason', reason, 'until_ms', until_ms, 'strikes', strikes,
           'rank', rank, 'since_ms', since, 'detail', detail, 'updated_ms', now,
           'credential', credential)
return 1
"""

# A call that worked lifts a pause whose end has passed (it was the probe).
_SUCCEEDED = """
local until_ms = tonumber(redis.call('HGET', KEYS[1], 'until_ms'))
if until_ms and until_ms >= 0 and tonumber(ARGV[1]) >= until_ms then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# How long the fleet waits when the API did not say (base, cap), in ms, by reason; and
# which reason wins when two are in force (a spend limit outlasts a rate limit).
_BACKOFF_MS: dict[PauseReason, tuple[int, int]] = {
    "rate_limit": (15_000, 600_000),
    "overloaded": (5_000, 120_000),
    "usage_limit": (300_000, 3_600_000),
    "credential": (300_000, 300_000),
    "spend": (300_000, 300_000),
}
_RANK: dict[PauseReason, int] = {r: i for i, r in enumerate(PAUSE_REASONS)}


@dataclass(frozen=True)
class Verdict:
    """The gate's answer to one ask: go, or why not and until when (epoch ms; 0 unknown,
    ``NO_END`` for a pause only an operator lifts)."""

    go: bool
    hold: Hold | None = None
    reason: str = ""
    until_ms: int = 0


class FleetGate:
    """One worker's door to the fleet's Claude calls."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        max_calls: int,
        calls_per_minute: int | None,
        call_ttl_ms: int,
        waiter_ttl_ms: int = 10_000,
    ) -> None:
        self.redis = client
        self.max_calls = max_calls
        self.calls_per_minute = calls_per_minute or 0
        self.call_ttl_ms = call_ttl_ms
        self.waiter_ttl_ms = waiter_ttl_ms
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)
        self._succeeded = client.register_script(_SUCCEEDED)

    @staticmethod
    def ticket(job_id: str, user_id: str) -> str:
        """A call's name in the gate: unique, with its job and user for fairness."""
        return f"{uuid.uuid4().hex[:16]}|{job_id.replace('|', '_')}|{user_id}"

    def ask(self, ticket: str, now_ms: int) -> Verdict:
        """Take a slot for ``ticket`` if it may start now; else say why it waits. A waiter
        must ask again within ``waiter_ttl_ms`` to keep its place in line."""
        keys_ = [keys.CLAUDE_RUNNING, keys.CLAUDE_WAITING, keys.CLAUDE_WAITING_SEEN,
                 keys.CLAUDE_STARTS, keys.CLAUDE_PAUSE]  # fmt: skip
        args: list[str | int] = [ticket, now_ms, self.max_calls, self.calls_per_minute,
                                 self.call_ttl_ms, self.waiter_ttl_ms]  # fmt: skip
        hold, reason, until = (_text(v) for v in self._acquire(keys=keys_, args=args))
        if hold == "go":
            return Verdict(True)
        return Verdict(False, hold, reason, int(float(until)))  # type: ignore[arg-type]

    def leave(self, ticket: str) -> None:
        """The call ended, or its caller stopped waiting: free its slot or its place."""
        pipe = self.redis.pipeline(transaction=False)
        for key in (keys.CLAUDE_RUNNING, keys.CLAUDE_WAITING, keys.CLAUDE_WAITING_SEEN):
            pipe.zrem(key, ticket)
        pipe.execute()

    def pause(
        self,
        reason: PauseReason,
        until_ms: int | None,
        now_ms: int,
        detail: str,
        credential: str = "",
    ) -> None:
        """Stop the fleet's calls until ``until_ms`` (None: back off, longer each time
        the pause is renewed after its end; ``NO_END``: until an operator acts). A pause
        of a stronger reason still in force is kept."""
        base, cap = _BACKOFF_MS[reason]
        end = 0 if until_ms is None else until_ms
        args: list[str | int] = [reason, end, now_ms, base, cap, detail[:500], _RANK[reason],
                                 credential]  # fmt: skip
        self._pause(keys=[keys.CLAUDE_PAUSE], args=args)

    def succeeded(self, now_ms: int) -> bool:
        """A call worked: lift a pause whose end has passed. True when one was lifted."""
        return bool(self._succeeded(keys=[keys.CLAUDE_PAUSE], args=[now_ms]))

    def resume(self) -> bool:
        """An operator's override: lift any pause. True when there was one."""
        return bool(self.redis.delete(keys.CLAUDE_PAUSE))

    def add_cost(self, job_id: str, cost_usd: float, now_ms: int) -> float:
        """Count a call's cost for the fleet's hourly figure and for its job; returns the
        job's total so far."""
        pipe = self.redis.pipeline(transaction=False)
        bucket = keys.claude_cost(now_ms // 60_000)
        pipe.incrbyfloat(bucket, cost_usd)
        pipe.expire(bucket, 7_200)
        pipe.incrbyfloat(keys.claude_job_cost(job_id), cost_usd)
        pipe.expire(keys.claude_job_cost(job_id), 30 * 86_400)
        out = pipe.execute()
        return float(out[2])

    def job_cost(self, job_id: str) -> float:
        value = self.redis.get(keys.claude_job_cost(job_id))
        return float(_text(value)) if value is not None else 0.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
