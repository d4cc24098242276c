// The bridge's side of the queue: lease jobs, keep leases alive, give them back,
// finish them. Each function is one serializable transaction; every write made
// after a claim is fenced by the claim's lease token (lib/jobs.ts `fenced`).
import { v } from "convex/values";
import { internal } from "../_generated/api";
import type { Doc } from "../_generated/dataModel";
import { internalMutation, type MutationCtx } from "../_generated/server";
import {
  ACTIVE_STATUSES,
  FINAL_STATUSES,
  jobDoc,
  jobResult,
  jobStatus,
  regenerationStats,
  reuseEntry,
} from "./lib/fields";
import { workerMutation, workerQuery } from "./lib/functions";
import { DEFAULT_LANGUAGE, type Language, momentText } from "./lib/progress";
import { removeOlderCourses } from "./lib/courses";
import { checkReuseValue, keepReuse } from "./lib/reuse";
import {
  ANALYSIS_STEPS,
  CLEAR_LEASE,
  DEFAULT_MAX_ATTEMPTS,
  FINALIZE_STEP,
  MAX_JITTER_MS,
  appendLogLine,
  backoffMs,
  clampLimit,
  endedUnderHolder,
  fenced,
  isActive,
  loadJob,
  newLeaseToken,
  requirePositive,
  secondsText,
  stepName,
  stepsOf,
} from "./lib/jobs";

// Upper bounds of one call; a bigger request gets this many.
const MAX_CLAIM_BATCH = 100;
const MAX_HELD = 500;
const MAX_RECLAIM_BATCH = 500;
// Expired-lease candidates read per reclaimed job: room for rows the web app may
// have left with stale lease fields, which reclaim clears as it passes them.
const RECLAIM_SCAN_FACTOR = 4;
const CRON_RECLAIM_BATCH = 100;
const READY_COUNT_CAP = 100;
// Ready jobs one watch answer names: more than a bridge claims at once.
const WATCH_READY_CAP = 20;
const WATCH_HELD_CAP = 100;

// firstStep: the first step without a completed record, where the chain starts.
const claimDoc = v.object({ job: jobDoc, leaseToken: v.string(), firstStep: v.number() });

export const claimBatch = workerMutation({
  args: {
    owner: v.string(),
    limit: v.number(),
    leaseMs: v.number(),
  },
  returns: v.array(claimDoc),
  handler: async (ctx, args, { now, language }) => {
    const limit = clampLimit(args.limit, MAX_CLAIM_BATCH);
    const leaseMs = requirePositive("leaseMs", args.leaseMs);
    if (limit === 0) return [];
    // Oldest ready first. A job without runAt (inserted by older code) sorts
    // before every number in the index, so it counts as ready.
    const ready = await ctx.db
      .query("jobs")
      .withIndex("by_status_runAt", (q) => q.eq("status", "pending").lte("runAt", now))
      .take(limit);
    const claims = [];
    for (const job of ready) {
      const leaseToken = newLeaseToken();
      await ctx.db.patch(job._id, {
        status: "claimed",
        lockedBy: args.owner,
        leaseUntil: now + leaseMs,
        leaseToken,
        updatedAt: now,
        progress: momentText("claimed", language),
      });
      // Where the chain starts, and the job log's line, in this transaction: the bridge
      // then needs no call of its own for either.
      const firstStep = firstUnfinishedStep(await stepsOf(ctx, job._id));
      const from = firstStep > 0 ? ` from ${stepName(firstStep)}` : "";
      await appendLogLine(ctx, job._id, "info", `Claimed by ${args.owner}${from}`, now);
      claims.push({ job: (await ctx.db.get(job._id))!, leaseToken, firstStep });
    }
    claims.sort(
      (a, b) => (a.job.runAt ?? 0) - (b.job.runAt ?? 0) || a.job.createdAt - b.job.createdAt,
    );
    return claims;
  },
});

export const renew = workerMutation({
  args: {
    jobId: v.string(),
    token: v.string(),
    leaseMs: v.number(),
  },
  returns: v.object({ leaseUntil: v.number(), cancelRequested: v.boolean(), status: jobStatus }),
  handler: async (ctx, args, { now }) => {
    const current = await loadJob(ctx, args.jobId);
    // Canceled by the web app under its holder: not extended, and the answer tells
    // the holder to stop, as a requested cancel does.
    if (endedUnderHolder(current, args.token)) {
      return { leaseUntil: current.leaseUntil ?? now, cancelRequested: true, status: current.status };
    }
    const job = await fenced(ctx, args.jobId, args.token);
    const leaseUntil = now + requirePositive("leaseMs", args.leaseMs);
    await ctx.db.patch(job._id, { leaseUntil, updatedAt: now });
    return { leaseUntil, cancelRequested: job.cancelRequested === true, status: job.status };
  },
});

export const heldJobs = workerQuery({
  args: { owner: v.string(), limit: v.number() },
  returns: v.array(jobDoc),
  handler: async (ctx, args) => {
    const limit = clampLimit(args.limit, MAX_HELD);
    if (limit === 0) return [];
    // One bounded range per active status; five ranges, at most 5 * limit rows.
    const held: Doc<"jobs">[] = [];
    for (const status of ACTIVE_STATUSES) {
      const rows = await ctx.db
        .query("jobs")
        .withIndex("by_lockedBy", (q) => q.eq("lockedBy", args.owner).eq("status", status))
        .take(limit);
      held.push(...rows);
    }
    held.sort((a, b) => a.createdAt - b.createdAt);
    return held.slice(0, limit);
  },
});

async function reclaim(
  ctx: MutationCtx,
  now: number,
  limit: number,
  language: Language,
): Promise<string[]> {
  if (limit === 0) return [];
  // leaseUntil >= 0 skips every job without a lease (undefined sorts first).
  const candidates = await ctx.db
    .query("jobs")
    .withIndex("by_leaseUntil", (q) => q.gte("leaseUntil", 0).lt("leaseUntil", now))
    .take(limit * RECLAIM_SCAN_FACTOR);
  const reclaimed: string[] = [];
  for (const job of candidates) {
    if (reclaimed.length >= limit) break;
    if (isActive(job.status)) {
      await ctx.db.patch(job._id, {
        status: "pending",
        runAt: now,
        ...CLEAR_LEASE,
        updatedAt: now,
        lastError: "lease expired",
        progress: momentText("queued", language),
      });
      reclaimed.push(job._id);
    } else {
      // Not held, yet carrying a lease (written by older code): clear it so that
      // the next pass does not read it again.
      await ctx.db.patch(job._id, { lockedBy: undefined, leaseUntil: undefined });
    }
  }
  return reclaimed;
}

export const reclaimExpired = workerMutation({
  args: { limit: v.number() },
  returns: v.array(v.string()),
  handler: async (ctx, args, { now, language }) => {
    return reclaim(ctx, now, clampLimit(args.limit, MAX_RECLAIM_BATCH), language);
  },
});

// Run by crons.ts every minute, so that leases expire even when no bridge is
// alive to call reclaimExpired. A full batch schedules another pass right away
// to drain a backlog without exceeding one transaction's limits.
export const reclaimExpiredInternal = internalMutation({
  args: { limit: v.optional(v.number()) },
  returns: v.number(),
  handler: async (ctx, args) => {
    const limit = clampLimit(args.limit ?? CRON_RECLAIM_BATCH, MAX_RECLAIM_BATCH);
    const reclaimed = await reclaim(ctx, Date.now(), limit, DEFAULT_LANGUAGE);
    if (limit > 0 && reclaimed.length === limit) {
      await ctx.scheduler.runAfter(0, internal.worker.queue.reclaimExpiredInternal, { limit });
    }
    return reclaimed.length;
  },
});

// The rest of a completion's clean-up, when the older courses did not fit in its
// transaction: one budget per pass until none is left.
export const removeOlderCoursesInternal = internalMutation({
  args: { repositoryId: v.id("repositories") },
  returns: v.null(),
  handler: async (ctx, args) => {
    if (!(await removeOlderCourses(ctx, args.repositoryId))) {
      await ctx.scheduler.runAfter(0, internal.worker.queue.removeOlderCoursesInternal, args);
    }
    return null;
  },
});

// Gives a held job back, ready at runAt (now when absent), its progress saying why it
// waits (the queued text when absent): a graceful stop, or a step that waits for a
// limit the whole fleet shares. Attempts are unchanged.
export const release = workerMutation({
  args: {
    jobId: v.string(),
    token: v.string(),
    reason: v.string(),
    runAt: v.optional(v.number()),
    progress: v.optional(v.string()),
  },
  returns: v.null(),
  handler: async (ctx, args, { now, language }) => {
    const job = await fenced(ctx, args.jobId, args.token);
    await ctx.db.patch(job._id, {
      status: "pending",
      runAt: args.runAt ?? now,
      ...CLEAR_LEASE,
      updatedAt: now,
      lastError: args.reason,
      progress: args.progress ?? momentText("queued", language),
    });
    return null;
  },
});

export const markCanceled = workerMutation({
  args: { jobId: v.string(), token: v.string() },
  returns: jobDoc,
  handler: async (ctx, args, { now, language }) => {
    const job = await fenced(ctx, args.jobId, args.token);
    await ctx.db.patch(job._id, {
      status: "canceled",
      ...CLEAR_LEASE,
      progress: momentText("canceled", language),
      completedAt: now,
      updatedAt: now,
    });
    return (await ctx.db.get(job._id))!;
  },
});

export const complete = workerMutation({
  args: {
    jobId: v.string(),
    token: v.string(),
    result: jobResult,
    docsCount: v.number(),
    // How the course differs from the repository's previous one (the web's field).
    regenerationStats: v.optional(regenerationStats),
    // A record kept for the repository's later jobs, as reuse:saveReuse keeps it.
    keep: v.optional(reuseEntry),
    // A job log line written before "Completed".
    log: v.optional(v.string()),
  },
  returns: jobDoc,
  handler: async (ctx, args, { now, language }) => {
    if (args.keep !== undefined) checkReuseValue(args.keep.value);
    const current = await loadJob(ctx, args.jobId);
    // A repeat after a lost answer finds its own completion: the completing token
    // stays on the job for exactly this check.
    if (current.status === "completed" && current.leaseToken === args.token) return current;
    const job = await fenced(ctx, args.jobId, args.token);
    await ctx.db.patch(job._id, {
      status: "completed",
      lockedBy: undefined,
      leaseUntil: undefined,
      result: args.result,
      docsCount: args.docsCount,
      completedAt: now,
      updatedAt: now,
      progress: momentText("completed", language),
      currentStep: ANALYSIS_STEPS,
      error: undefined,
      ...(args.regenerationStats === undefined
        ? {}
        : { regenerationStats: args.regenerationStats }),
    });
    // The finalize step ends with the job, in the same transaction.
    const finalize = await ctx.db
      .query("jobSteps")
      .withIndex("by_job_step", (q) => q.eq("jobId", job._id).eq("step", FINALIZE_STEP))
      .unique();
    if (finalize !== null)
      await ctx.db.patch(finalize._id, { status: "completed", completedAt: now });
    const repo = await ctx.db.get(job.repositoryId);
    if (repo !== null) await ctx.db.patch(repo._id, { lastAnalyzedAt: now });
    if (args.keep !== undefined) await keepReuse(ctx, job, args.keep, now);
    if (args.log !== undefined) await appendLogLine(ctx, job._id, "info", args.log, now);
    await appendLogLine(ctx, job._id, "info", "Completed", now);
    if (!(await removeOlderCourses(ctx, job.repositoryId))) {
      await ctx.scheduler.runAfter(0, internal.worker.queue.removeOlderCoursesInternal, {
        repositoryId: job.repositoryId,
      });
    }
    return (await ctx.db.get(job._id))!;
  },
});

export const fail = workerMutation({
  args: {
    jobId: v.string(),
    token: v.string(),
    error: v.string(),
    permanent: v.boolean(),
    jitterMs: v.optional(v.number()),
  },
  returns: jobDoc,
  handler: async (ctx, args, { now, language }) => {
    const job = await fenced(ctx, args.jobId, args.token);
    const attempts = (job.attempts ?? 0) + 1;
    const { error } = args;
    const ended = { ...CLEAR_LEASE, attempts, error, lastError: error, completedAt: now };
    if (args.permanent) {
      await ctx.db.patch(job._id, {
        status: "failed",
        ...ended,
        updatedAt: now,
        progress: momentText("failed", language),
      });
      await appendLogLine(ctx, job._id, "error", `Failed: ${error}`, now);
    } else if (attempts >= (job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS)) {
      await ctx.db.patch(job._id, { status: "dead", ...ended, updatedAt: now, progress: momentText("dead", language) });
      await appendLogLine(ctx, job._id, "error", `Dead after ${attempts} attempts: ${error}`, now);
    } else {
      const jitter = args.jitterMs ?? Math.floor(Math.random() * (MAX_JITTER_MS + 1));
      const runAt = now + backoffMs(attempts) + jitter;
      await ctx.db.patch(job._id, {
        status: "pending",
        ...CLEAR_LEASE,
        attempts,
        lastError: error,
        runAt,
        updatedAt: now,
        progress: momentText("retrying", language),
      });
      const delay = secondsText(runAt - now);
      const line = `Attempt ${attempts} failed, retry in ${delay} s: ${error}`;
      await appendLogLine(ctx, job._id, "error", line, now);
    }
    return (await ctx.db.get(job._id))!;
  },
});

// What a bridge subscribes to (store/convex_watch.py), one query for both of its
// questions: which jobs are due now and when the next one falls due (a retry's
// runAt), and which of the jobs it holds were ended under it (the web's cancel and
// Regenerate write `canceled` and leave the lease) or asked to stop (`fondation
// cancel`). Each re-run is a billed function call, and a deployment re-runs a
// query when a write touches what it read; so it reads only ranges a job's own
// progress writes stay out of: the pending jobs, the holder's jobs in a final
// status, the holder's jobs with a cancel request. A running job's steps never
// re-run it. The clock is read once per run: a job falling due later is not a
// write, so the answer gives its time and the bridge sets its own timer.
export const watch = workerQuery({
  args: { owner: v.string() },
  returns: v.object({
    ready: v.array(v.id("jobs")),
    nextRunAt: v.union(v.number(), v.null()),
    ended: v.array(v.object({ jobId: v.id("jobs"), status: jobStatus })),
    cancelRequested: v.array(v.id("jobs")),
  }),
  handler: async (ctx, args, { now }) => {
    // Oldest runAt first; a job without runAt (older code) sorts first and is due.
    const pending = await ctx.db
      .query("jobs")
      .withIndex("by_status_runAt", (q) => q.eq("status", "pending"))
      .take(WATCH_READY_CAP + 1);
    const due = pending.filter((job) => (job.runAt ?? 0) <= now);
    const later = pending.find((job) => (job.runAt ?? 0) > now);
    const ended = [];
    for (const status of FINAL_STATUSES) {
      const rows = await ctx.db
        .query("jobs")
        .withIndex("by_lockedBy", (q) => q.eq("lockedBy", args.owner).eq("status", status))
        .take(WATCH_HELD_CAP);
      ended.push(...rows.map((job) => ({ jobId: job._id, status: job.status })));
    }
    const asked = await ctx.db
      .query("jobs")
      .withIndex("by_lockedBy_cancelRequested", (q) =>
        q.eq("lockedBy", args.owner).eq("cancelRequested", true),
      )
      .take(WATCH_HELD_CAP);
    return {
      ready: due.slice(0, WATCH_READY_CAP).map((job) => job._id),
      nextRunAt: later?.runAt ?? null,
      ended: ended.slice(0, WATCH_HELD_CAP),
      cancelRequested: asked.filter((job) => isActive(job.status)).map((job) => job._id),
    };
  },
});

// The probe of the bridge's previous release, which called it every second: kept
// so that such a bridge keeps working during a rollout. The current bridge
// subscribes to `watch` instead.: how many jobs are ready (capped), and the
// newest job's id, which changes whenever a job is created.
export const readyCount = workerQuery({
  args: { cap: v.optional(v.number()) },
  returns: v.object({
    count: v.number(),
    capped: v.boolean(),
    newestJobId: v.union(v.id("jobs"), v.null()),
  }),
  handler: async (ctx, args, { now }) => {
    const cap = Math.max(1, clampLimit(args.cap ?? READY_COUNT_CAP, READY_COUNT_CAP));
    const ready = await ctx.db
      .query("jobs")
      .withIndex("by_status_runAt", (q) => q.eq("status", "pending").lte("runAt", now))
      .take(cap + 1);
    const newest = await ctx.db.query("jobs").order("desc").first();
    return {
      count: Math.min(ready.length, cap),
      capped: ready.length > cap,
      newestJobId: newest?._id ?? null,
    };
  },
});

// The first step without a completed record (a retried job resumes there), at most the
// last step.
function firstUnfinishedStep(steps: Doc<"jobSteps">[]): number {
  const done = new Set(steps.filter((s) => s.status === "completed").map((s) => s.step));
  let step = 0;
  while (done.has(step) && step < FINALIZE_STEP) step += 1;
  return step;
}
