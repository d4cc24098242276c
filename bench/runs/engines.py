"""The engines: the offline engine on a real repository, the Claude engine's fan-out,
and the real Claude CLI against a scripted API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.runs.row import Row


def offline_engine(repo_root: Path) -> list[Row]:
    """All six offline steps on a repository of about 50,000 lines, in a fresh process."""
    code = f"""
import json, resource, sys, time
sys.path.insert(0, {str(Path.cwd())!r})
from bench.offline_run import run
lines, seconds = run({str(repo_root)!r})
print(json.dumps({{"lines": lines, "seconds": seconds,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

    out = (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    data = json.loads(out)
    return [
        Row(
            "Offline engine, all six steps",
            f"{data['seconds']:.1f} s for"
            f" {data['lines']:,} lines ({data['lines'] / data['seconds']:,.0f} lines/s)",
            "-",
            "< 10 s for 50,000 lines",
            data["seconds"] < 10 * data["lines"] / 50_000,
            f"peak RSS {data['rss_mb']:.0f} MB",
        )
    ]


def fanout(delay_s: float = 0.3) -> list[Row]:
    """Chapters fanned out: steps 4 and 5 with 8 chapters, 4 at once vs one by one."""
    from bench.fanout_run import run_steps_4_5

    serial = run_steps_4_5(concurrency=1, delay_s=delay_s)
    parallel = run_steps_4_5(concurrency=4, delay_s=delay_s)
    ratio = parallel / serial
    return [
        Row(
            "Chapter fan-out, steps 4+5, 8 chapters, 4 at once",
            f"{parallel:.2f} s",
            f"{serial:.2f} s one after another",
            "<= 0.35x",
            ratio <= 0.35,
            f"ratio {ratio:.2f}; CLI double answers after {delay_s} s",
        )
    ]


def claude_cli() -> list[Row]:
    """A job of 8 chapters on the real Claude Code CLI against the scripted API (delays
    scaled from the seed's step times): every fan-out at once, the default 4, and one
    call at a time."""
    from bench.claude_cli_run import SCALE, ideal_s, run_job

    serial, calls = run_job(concurrency=1)
    fanned, _ = run_job(concurrency=8)
    default, _ = run_job(concurrency=4)
    ratio = fanned / serial
    return [
        Row(
            "Claude job on the real CLI, 8 chapters fanned out",
            f"{fanned:.1f} s",
            f"{serial:.1f} s one call at a time",
            "<= 0.4x",
            ratio <= 0.4,
            f"ratio {ratio:.2f} with CLAUDE_CHAPTER_CONCURRENCY=8 (the delays alone:"
            f" {ideal_s(8):.1f} s vs {ideal_s(1):.1f} s); {default:.1f} s, ratio"
            f" {default / serial:.2f}, at the default 4; {calls} calls; the scripted API"
            f" answers after the seed's 60/60/30/60/40/40 s per call scaled by {SCALE}",
        )
    ]


def claude_reviews(repeats: int = 3) -> list[Row]:
    """Steps 4 and 5 on the real CLI, 8 chapters 4 at once, with per-chapter delays that
    vary (0.4x to 2.4x): each review started as its draft is done, against all reviews
    after the slowest draft. Median of ``repeats`` rounds, the two run back to back."""
    import statistics

    from bench.claude_cli_run import DRAFT_FACTORS, REVIEW_FACTORS, SCALE, run_steps_4_5

    early, late = [], []
    for _ in range(repeats):
        early.append(run_steps_4_5(review_with_drafts=True))
        late.append(run_steps_4_5(review_with_drafts=False))
    ratios = [e / lt for e, lt in zip(early, late, strict=True)]
    ratio = statistics.median(ratios)
    rounds = ", ".join(f"{r:.2f}" for r in ratios)
    return [
        Row(
            "Claude steps 4+5 on the real CLI, reviews start as drafts finish",
            f"{statistics.median(early):.1f} s",
            f"{statistics.median(late):.1f} s with reviews after the slowest draft",
            "faster (< 1x)",
            ratio < 1.0,
            f"median ratio {ratio:.2f} over {repeats} rounds ({rounds});"
            f" 8 chapters, 4 at once; a chapter's draft takes 60 s x"
            f" {'/'.join(f'{f:g}' for f in DRAFT_FACTORS)} and its review 40 s x"
            f" {'/'.join(f'{f:g}' for f in REVIEW_FACTORS)}, scaled by {SCALE}",
        )
    ]


def claude_limits() -> list[Row]:
    """20 jobs on 3 workers through the real CLI while the scripted API allows N requests
    a minute, then refuses everything for 60 s with a reset time."""
    from bench.claude_limits_run import BLACKOUT_S, JOBS, MAX_CALLS, PER_MINUTE, WORKERS, run

    r = run()
    # Six calls a job, each one request: fewer answered would mean work was reused.
    met = (r.completed == JOBS and r.attempts == 0 and r.most_at_once <= MAX_CALLS
           and r.goodput >= 0.9 and r.served >= 6 * JOBS)  # fmt: skip
    return [
        Row(
            f"Claude fleet under a limit: {JOBS} jobs, {WORKERS} workers, {PER_MINUTE}"
            f" requests a minute, then {BLACKOUT_S:.0f} s refused",
            f"{r.completed}/{JOBS} completed, {r.attempts} attempts spent, goodput"
            f" {r.goodput:.2f}, at most {r.most_at_once} calls at once",
            f"the API's quota: {PER_MINUTE} a minute, CLAUDE_MAX_CALLS={MAX_CALLS}",
            f"all complete, 0 attempts, <= {MAX_CALLS} at once, goodput >= 0.9",
            met,
            f"{r.wall_s:.0f} s wall; {r.served} requests answered, {r.refused_in_blackout}"
            f" refused in the blackout, {r.refused_over_quota} over the quota (the CLI"
            f" waited those out); goodput is what was answered in the whole minutes before"
            f" and after the blackout while at least {MAX_CALLS} jobs ran"
            f" ({r.saturated_s:.0f} s), over N a minute; API key, the API's retry-after is"
            " the blackout's remaining time",
        )
    ]


def chapters_as_reviewed(runs: int = 3) -> list[Row]:
    """When an eight-chapter job's chapters become readable on the real CLI (each call's
    time varying around the seed's step times x 0.05), through a bridge and a worker:
    the first as a fraction of the whole job, and each one's wait after its review."""
    from bench.reviewed_run import median, run_job

    readings = [run_job(seed=seed) for seed in range(runs)]
    ratio = median([r.first_ratio for r in readings])
    first = median([r.first_s for r in readings])
    total = median([r.total_s for r in readings])
    worst_lag = max(r.max_lag_s for r in readings)
    return [
        Row(
            "Chapters readable as reviewed, real CLI, 8 chapters",
            f"first at {ratio:.2f} of the job ({first:.1f} s of {total:.1f} s)",
            "1.00: every doc waited for the save",
            "first <= 0.65x; each <= 1 s after its review",
            ratio <= 0.65 and worst_lag <= 1.0,
            f"medians of {runs} jobs; the longest wait from a review's end to its chapter"
            f" in the store {worst_lag * 1000:.0f} ms (all {runs * 8} chapters); first"
            f" chapter ratios {', '.join(f'{r.first_ratio:.2f}' for r in readings)}; the"
            " scripted API answers after the seed's 60/60/30/60/40/40 s per call x 0.05,"
            " each call's time varied (log-normal, sigma 0.3); CLAUDE_CHAPTER_CONCURRENCY=4."
            " Each review starts as its draft ends, ahead of the drafts not yet started"
            " (CLAUDE_REVIEW_WITH_DRAFTS), and its chapter is stored as the review ends",
        )
    ]


def regenerate() -> list[Row]:
    """Regenerates on real history (idna 3.6, 3.7, 3.8) through the real CLI: the calls
    and tokens of each job against the first one's."""
    from bench.regenerate_run import PARTS, JobFigures, run

    first, same, two, one, every = run()
    untouched = [s for s in one.docs if "core" not in s and s.startswith(("0", "1"))]
    identical = all(one.docs[s] == two.docs[s] for s in untouched)

    def share(f: JobFigures) -> str:
        return (f"{f.calls} calls ({f.calls / first.calls:.0%}), "
                f"{f.input_tokens}+{f.output_tokens} tokens, ${f.cost_usd:.4f}"
                f" ({f.cost_usd / first.cost_usd:.0%}), {f.took_s:.1f} s")  # fmt: skip

    base = (f"{first.calls} calls, {first.input_tokens}+{first.output_tokens} tokens,"
            f" ${first.cost_usd:.4f}, {first.took_s:.1f} s")  # fmt: skip
    return [
        Row("Regenerate, same commit", share(same), f"first run: {base}",
            "0 calls, same course", same.calls == 0 and same.docs == first.docs,
            f"the course is identical: {same.docs == first.docs}"),
        Row("Regenerate, one chapter's files changed (idna 3.7 to 3.8)", share(one),
            f"first run: {base}", "<= 25% of the calls", one.calls <= 0.25 * first.calls,
            f"core.py and the version file changed; asked again: {', '.join(one.asked)};"
            f" the {len(untouched)} other chapters byte-identical to the previous course:"
            f" {identical}; {len(PARTS)} chapters"),
        Row("Regenerate, two chapters' files changed (idna 3.6 to 3.7)", share(two),
            f"first run: {base}", "-", None,
            f"core.py, idnadata.py and the version file; asked again: {', '.join(two.asked)}"),
        Row("Regenerate, a file every call read changed", share(every),
            f"first run: {base}", "every call again", every.calls == first.calls,
            "a comment added to idna/__init__.py, which every call opened first"),
    ]  # fmt: skip
