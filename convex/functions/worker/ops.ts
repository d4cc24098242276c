// Numbers for dashboards and alerts. Convex has no COUNT, and counting by reading
// would grow with history, so each count is capped: past the cap the answer is
// "at least cap" (capped: true), which is all an alert on queue depth needs.
import { v } from "convex/values";
import type { Doc } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { DocBudget, deleteDocsOf, latestCompletedJob } from "./lib/courses";
import {
  ACTIVE_STATUSES,
  FINAL_STATUSES,
  JOB_STATUSES,
  type JobStatus,
  jobDoc,
  jobStatus,
} from "./lib/fields";
import { workerMutation, workerQuery } from "./lib/functions";
import { CLEAR_LEASE, appendLogLine, clampLimit, isActive, loadJob } from "./lib/jobs";
import { momentText } from "./lib/progress";

const DEFAULT_COUNT_CAP = 1000;
const OLDEST_SCAN = 200;
// Rows read per status by the operator's scans (stuck jobs, purge). Active jobs
// are few (bridges x concurrency); finished ones are read oldest first.
const OPERATOR_SCAN = 1000;
const MAX_PURGE_JOBS = 100;
// Steps and log lines deleted by one purge call; a job whose lines do not fit is
// left for the next call, so that one transaction stays far from Convex's limits.
const PURGE_CHILD_BUDGET = 8000;
// Artifact pieces are up to 1 MiB each: at most this many per purge transaction, well
// inside its 16 MiB of writes.
const PURGE_PART_BUDGET = 8;
// Candidates checked for being their repository's latest course, one indexed read each.
const LATEST_CHECKS = 400;

// How many jobs are in each status, each count capped: the bridge's gauges.
export const countByStatus = workerQuery({
  args: { cap: v.optional(v.number()) },
  returns: v.array(v.object({ status: jobStatus, count: v.number(), capped: v.boolean() })),
  handler: async (ctx, args) => {
    const cap = Math.max(1, clampLimit(args.cap ?? DEFAULT_COUNT_CAP, DEFAULT_COUNT_CAP));
    const counts = [];
    for (const status of JOB_STATUSES) {
      const rows = await ctx.db
        .query("jobs")
        .withIndex("by_status_runAt", (q) => q.eq("status", status))
        .take(cap + 1);
      if (rows.length > 0) {
        counts.push({ status, count: Math.min(rows.length, cap), capped: rows.length > cap });
      }
    }
    return counts;
  },
});

// createdAt of the oldest ready pending job: the age of the queue's head.
export const oldestPending = workerQuery({
  args: {},
  returns: v.union(v.number(), v.null()),
  handler: async (ctx, _args, { now }) => {
    // Oldest pending first; the first one that is ready is the answer. Jobs waiting
    // out a retry delay are skipped, and there are few of them.
    const oldest = await ctx.db
      .query("jobs")
      .withIndex("by_status_createdAt", (q) => q.eq("status", "pending"))
      .take(OLDEST_SCAN);
    const ready = oldest.find((job) => job.runAt === undefined || job.runAt <= now);
    if (ready !== undefined) return ready.createdAt;
    if (oldest.length < OLDEST_SCAN) return null;
    // More waiting jobs than the scan: fall back to the earliest-ready ones, an
    // approximation that can only report a younger head than the true one.
    const soonest = await ctx.db
      .query("jobs")
      .withIndex("by_status_runAt", (q) => q.eq("status", "pending").lte("runAt", now))
      .take(OLDEST_SCAN);
    return soonest.length === 0 ? null : Math.min(...soonest.map((job) => job.createdAt));
  },
});

// The oldest jobs of some statuses, read per status from bounded index ranges and
// merged by createdAt.
async function oldestIn(
  ctx: QueryCtx,
  statuses: readonly JobStatus[],
  keep: (job: Doc<"jobs">) => boolean,
): Promise<Doc<"jobs">[]> {
  const found: Doc<"jobs">[] = [];
  for (const status of statuses) {
    const rows = await ctx.db
      .query("jobs")
      .withIndex("by_status_createdAt", (q) => q.eq("status", status))
      .take(OPERATOR_SCAN);
    found.push(...rows.filter(keep));
  }
  return found.sort((a, b) => a.createdAt - b.createdAt);
}

// Active jobs whose lease expired, or that have not moved for idleMs (a lease kept
// alive while nothing progresses).
export const listStuck = workerQuery({
  args: { idleMs: v.number(), limit: v.number() },
  returns: v.array(jobDoc),
  handler: async (ctx, args, { now }) => {
    const limit = clampLimit(args.limit, OPERATOR_SCAN);
    const idleBefore = now - args.idleMs;
    const stuck = await oldestIn(
      ctx,
      ACTIVE_STATUSES,
      (job) =>
        (job.leaseUntil !== undefined && job.leaseUntil < now) ||
        (job.updatedAt ?? job.createdAt) < idleBefore,
    );
    return stuck.slice(0, limit);
  },
});

// The operator's override: an active job goes back to pending at once and its
// holder is fenced off (its token is cleared). Any other job is left as it is.
export const requeue = workerMutation({
  args: { jobId: v.string(), reason: v.string() },
  returns: jobDoc,
  handler: async (ctx, args, { now, language }) => {
    const job = await loadJob(ctx, args.jobId);
    if (isActive(job.status)) {
      await ctx.db.patch(job._id, {
        status: "pending",
        runAt: now,
        ...CLEAR_LEASE,
        updatedAt: now,
        lastError: args.reason,
        progress: momentText("queued", language),
      });
      await appendLogLine(ctx, job._id, "info", `Requeued: ${args.reason}`, now);
    }
    return (await ctx.db.get(job._id))!;
  },
});

// Deletes final jobs finished before `before` with their steps, artifact pieces, log
// lines and docs. A repository's latest completed job is never deleted: it is the
// course the web app shows (jobs.getLatestCompletedByRepository), so its docs stay
// and no doc is left naming a deleted job. Returns the ids deleted (or, with dryRun,
// that would be). A job whose children do not fit in one transaction is finished by
// the next call.
export const purge = workerMutation({
  args: { before: v.number(), limit: v.number(), dryRun: v.boolean() },
  returns: v.array(v.id("jobs")),
  handler: async (ctx, args) => {
    const limit = clampLimit(args.limit, MAX_PURGE_JOBS);
    const old = await oldestIn(
      ctx,
      FINAL_STATUSES,
      (job) => (job.completedAt ?? job.updatedAt ?? job.createdAt) < args.before,
    );
    const chosen: Doc<"jobs">[] = [];
    for (const job of old.slice(0, LATEST_CHECKS)) {
      if (chosen.length >= limit) break;
      if (job.status === "completed") {
        const latest = await latestCompletedJob(ctx, job.repositoryId);
        if (latest?._id === job._id) continue;
      }
      chosen.push(job);
    }
    if (args.dryRun) return chosen.map((job) => job._id);
    const purged = [];
    let budget = PURGE_CHILD_BUDGET;
    let partBudget = PURGE_PART_BUDGET;
    const docBudget = new DocBudget();
    for (const job of chosen) {
      if (!(await deleteDocsOf(ctx, job._id, docBudget))) break;
      const parts = await ctx.db
        .query("jobStepParts")
        .withIndex("by_job_step_part", (q) => q.eq("jobId", job._id))
        .take(partBudget + 1);
      for (const piece of parts.slice(0, partBudget)) await ctx.db.delete(piece._id);
      if (parts.length > partBudget) break;
      partBudget -= parts.length;
      const steps = await ctx.db
        .query("jobSteps")
        .withIndex("by_job_step", (q) => q.eq("jobId", job._id))
        .take(budget + 1);
      const logs = await ctx.db
        .query("jobLogs")
        .withIndex("by_job_seq", (q) => q.eq("jobId", job._id))
        .take(Math.max(budget - steps.length + 1, 0));
      const children = [...steps, ...logs];
      // Delete what fits; the job itself goes only with its last child.
      for (const child of children.slice(0, budget)) await ctx.db.delete(child._id);
      if (children.length > budget) break;
      budget -= children.length;
      await ctx.db.delete(job._id);
      purged.push(job._id);
    }
    return purged;
  },
});
