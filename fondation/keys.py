"""Every Redis key and channel name this project uses, in one place."""

from __future__ import annotations

PREFIX = "fondation"
# Published after a job is inserted, so a bridge claims it without waiting for a poll.
WAKE_CHANNEL = f"{PREFIX}:wake"


def step_beat(job_id: str) -> str:
    """Refreshed with a TTL while a step of the job runs: the job's work is alive."""
    return f"{PREFIX}:beat:{job_id}"


def cancel_flag(job_id: str) -> str:
    """Set by a bridge when the job is canceled; running steps poll it."""
    return f"{PREFIX}:cancel:{job_id}"


def deliveries(job_id: str, token: str, step: int) -> str:
    """How many times one step of one attempt was delivered (poison-job guard)."""
    return f"{PREFIX}:deliveries:{job_id}:{token[:12]}:{step}"


def worker_alive(hostname: str) -> str:
    """A worker's liveness beat (dies with the worker through its TTL)."""
    return f"{PREFIX}:worker:{hostname}"


WORKER_ALIVE_PATTERN = f"{PREFIX}:worker:*"


def bridge_alive(owner: str) -> str:
    """A bridge's liveness beat (dies with the bridge through its TTL)."""
    return f"{PREFIX}:bridge:{owner}"


# Every bridge that has held leases (its WORKER_ID); a bridge leaves it only once no job
# is leased to it any more, so its jobs are looked after even when it never comes back.
BRIDGES = f"{PREFIX}:bridges"


# The fleet's Claude calls (analysis/claude/gate.py): who runs one, who waits for one,
# when the last ones started (pacing), and why the fleet's calls are paused.
CLAUDE_RUNNING = f"{PREFIX}:claude:running"
CLAUDE_WAITING = f"{PREFIX}:claude:waiting"
CLAUDE_WAITING_SEEN = f"{PREFIX}:claude:waiting-seen"
CLAUDE_STARTS = f"{PREFIX}:claude:starts"
CLAUDE_PAUSE = f"{PREFIX}:claude:pause"


def claude_cost(minute: int) -> str:
    """What the fleet's Claude calls that ended in this minute (epoch minutes) cost, USD."""
    return f"{PREFIX}:claude:cost:{minute}"


def claude_job_cost(job_id: str) -> str:
    """What one job's Claude calls cost so far, USD (CLAUDE_JOB_BUDGET_USD)."""
    return f"{PREFIX}:claude:job-cost:{job_id}"
