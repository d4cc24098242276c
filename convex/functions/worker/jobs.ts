// The client side used by the `fondation` CLI: repositories, job creation,
// listing, cancel and retry. The web app has its own functions for its users;
// these take the worker secret like the queue functions do.
import { v } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { invalid, notFound } from "./lib/errors";
import {
  ACTIVE_STATUSES,
  JOB_STATUSES,
  RETRYABLE_STATUSES,
  type JobStatus,
  jobDoc,
  repositoryDoc,
} from "./lib/fields";
import { workerMutation, workerQuery } from "./lib/functions";
import { momentText } from "./lib/progress";
import {
  ANALYSIS_STEPS,
  CLEAR_LEASE,
  DEFAULT_MAX_ATTEMPTS,
  clampLimit,
  findRepository,
  isActive,
  loadJob,
} from "./lib/jobs";

const MAX_LIST = 500;
// Statuses in which a job holds its dedupe key.
const LIVE_STATUSES = ["pending", ...ACTIVE_STATUSES] as const;

// A client's repository (the CLI's `fondation submit`): the row of that name someone
// already has (see sharedRepository), else the caller's own, created on first use. A
// row of another user (a web user's) is returned as it is: nothing of it is changed,
// and no users document is made for the caller.
export const upsertRepository = workerMutation({
  args: {
    userId: v.string(),
    githubRepoId: v.optional(v.string()),
    name: v.string(),
    fullName: v.string(),
    description: v.optional(v.string()),
    defaultBranch: v.optional(v.string()),
    cloneUrl: v.optional(v.string()),
  },
  returns: repositoryDoc,
  handler: async (ctx, args, { now }) => {
    const caller = await knownOwner(ctx, args.userId);
    const shared = await sharedRepository(ctx, args.fullName, args.cloneUrl);
    if (shared !== null && shared.userId !== caller) {
      // A web user's row: the job goes there, and the row stays the web's as it is.
      return shared;
    }
    const userId =
      caller ??
      (await ctx.db.insert("users", {
        githubId: args.userId,
        username: args.userId,
        createdAt: now,
      }));
    const existing =
      shared ??
      (await ctx.db
        .query("repositories")
        .withIndex("by_user_fullName", (q) => q.eq("userId", userId).eq("fullName", args.fullName))
        .first());
    const fields = {
      name: args.name,
      description: args.description,
      defaultBranch: args.defaultBranch ?? "main",
      cloneUrl: args.cloneUrl,
      lastFetched: now,
    };
    let id: Id<"repositories">;
    if (existing === null) {
      id = await ctx.db.insert("repositories", {
        ...fields,
        userId,
        fullName: args.fullName,
        githubRepoId: args.githubRepoId ?? "",
      });
    } else {
      id = existing._id;
      await ctx.db.patch(id, fields);
    }
    return (await ctx.db.get(id))!;
  },
});

// Rows of one name looked at, oldest first; more than a handful means many users
// connected the same repository, and the oldest ones are the ones that count.
const SAME_NAME_SCAN = 32;

// The repository row a client's submission of fullName belongs to whoever made it:
// the oldest row of that name that clones the same source. The web app's course page
// and its `/latest` open the first row repositories.getByFullName answers (the oldest),
// and Regenerate works on the user's own row, so a job an operator submits from the
// CLI must land on that row rather than on a second one of the same name.
// store/sqlite/jobs.py makes the same choice; the contract suite holds both to it.
async function sharedRepository(
  ctx: QueryCtx,
  fullName: string,
  cloneUrl: string | undefined,
): Promise<Doc<"repositories"> | null> {
  const wanted = sourceKey(cloneUrl || githubUrl(fullName));
  const rows = await ctx.db
    .query("repositories")
    .withIndex("by_fullName", (q) => q.eq("fullName", fullName))
    .take(SAME_NAME_SCAN);
  return rows.find((row) => sourceKey(row.cloneUrl || githubUrl(row.fullName)) === wanted) ?? null;
}

function githubUrl(fullName: string): string {
  return `https://github.com/${fullName}`;
}

// One spelling per source: the host's case, a trailing slash and ".git" do not matter.
function sourceKey(url: string): string {
  return url.trim().toLowerCase().replace(/\/+$/, "").replace(/\.git$/, "");
}

// The users document a CLI caller's user id names: the id itself when it is one, or
// else the user whose githubId is that text (upsertRepository creates it on first
// use). The web app's repositories and jobs name a users document, so the CLI's must too.
async function knownOwner(ctx: QueryCtx, userId: string): Promise<Id<"users"> | null> {
  const id = ctx.db.normalizeId("users", userId);
  if (id !== null && (await ctx.db.get(id)) !== null) return id;
  const known = await ctx.db
    .query("users")
    .withIndex("by_github_id", (q) => q.eq("githubId", userId))
    .first();
  return known?._id ?? null;
}

export const getRepository = workerQuery({
  args: { repositoryId: v.string() },
  returns: repositoryDoc,
  handler: async (ctx, args) => {
    return loadRepository(ctx, args.repositoryId);
  },
});

async function loadRepository(ctx: QueryCtx, repositoryId: string): Promise<Doc<"repositories">> {
  const repo = await findRepository(ctx, repositoryId);
  if (repo === null) throw notFound("repository", repositoryId);
  return repo;
}

export const createJob = workerMutation({
  args: {
    // Accepted for older callers; a job's owner is its repository's owner.
    userId: v.optional(v.string()),
    repositoryId: v.string(),
    prompt: v.optional(v.string()),
    callbackToken: v.optional(v.string()),
    ref: v.optional(v.string()),
    fresh: v.optional(v.boolean()),
    dedupeKey: v.optional(v.string()),
    maxAttempts: v.optional(v.number()),
    runAt: v.optional(v.number()),
  },
  returns: v.object({ job: jobDoc, created: v.boolean() }),
  handler: async (ctx, args, { now, language }) => {
    const repo = await loadRepository(ctx, args.repositoryId);
    const maxAttempts = args.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw invalid(`maxAttempts must be a positive integer, got ${maxAttempts}`);
    }
    if (args.dedupeKey) {
      const live = await liveJobWithKey(ctx, args.dedupeKey);
      if (live !== null) return { job: live, created: false };
    }
    const id = await ctx.db.insert("jobs", {
      userId: repo.userId,
      repositoryId: repo._id,
      status: "pending",
      prompt: args.prompt ?? "",
      callbackToken: args.callbackToken ?? "",
      runAt: args.runAt ?? now,
      attempts: 0,
      maxAttempts,
      dedupeKey: args.dedupeKey,
      createdAt: now,
      updatedAt: now,
      totalSteps: ANALYSIS_STEPS,
      ref: args.ref,
      fresh: args.fresh,
      progress: momentText("queued", language),
    });
    return { job: (await ctx.db.get(id))!, created: true };
  },
});

// The oldest job holding the key in a live status: one indexed range per status,
// so the read stays small however many finished jobs share the key.
async function liveJobWithKey(ctx: QueryCtx, dedupeKey: string): Promise<Doc<"jobs"> | null> {
  let oldest: Doc<"jobs"> | null = null;
  for (const status of LIVE_STATUSES) {
    const job = await ctx.db
      .query("jobs")
      .withIndex("by_dedupeKey_status", (q) => q.eq("dedupeKey", dedupeKey).eq("status", status))
      .first();
    if (job !== null && (oldest === null || job.createdAt < oldest.createdAt)) oldest = job;
  }
  return oldest;
}

export const getJob = workerQuery({
  args: { jobId: v.string() },
  returns: jobDoc,
  handler: async (ctx, args) => {
    return loadJob(ctx, args.jobId);
  },
});

export const listJobs = workerQuery({
  args: { status: v.optional(v.string()), limit: v.optional(v.number()) },
  returns: v.array(jobDoc),
  handler: async (ctx, args) => {
    const limit = clampLimit(args.limit ?? 50, MAX_LIST);
    if (limit === 0) return [];
    const { status } = args;
    if (status === undefined || status === "") {
      return ctx.db.query("jobs").withIndex("by_createdAt").order("desc").take(limit);
    }
    // An unknown status matches no job, as it would in SQL.
    if (!(JOB_STATUSES as readonly string[]).includes(status)) return [];
    return ctx.db
      .query("jobs")
      .withIndex("by_status_createdAt", (q) => q.eq("status", status as JobStatus))
      .order("desc")
      .take(limit);
  },
});

export const requestCancel = workerMutation({
  args: { jobId: v.string() },
  returns: jobDoc,
  handler: async (ctx, args, { now, language }) => {
    const job = await loadJob(ctx, args.jobId);
    if (job.status === "pending") {
      await ctx.db.patch(job._id, {
        status: "canceled",
        cancelRequested: true,
        ...CLEAR_LEASE,
        progress: momentText("canceled", language),
        completedAt: now,
        updatedAt: now,
      });
    } else if (isActive(job.status)) {
      // The holder sees the flag on its next renewal or step and finishes the cancel.
      await ctx.db.patch(job._id, { cancelRequested: true, updatedAt: now });
    }
    return (await ctx.db.get(job._id))!;
  },
});

export const retryJob = workerMutation({
  args: { jobId: v.string() },
  returns: jobDoc,
  handler: async (ctx, args, { now, language }) => {
    const job = await loadJob(ctx, args.jobId);
    if (!RETRYABLE_STATUSES.includes(job.status)) {
      throw invalid(
        `job ${args.jobId} is ${job.status}; only a failed, dead or canceled job can be retried`,
      );
    }
    // Step records stay, so the run resumes after its last completed step.
    await ctx.db.patch(job._id, {
      status: "pending",
      attempts: 0,
      runAt: now,
      ...CLEAR_LEASE,
      cancelRequested: undefined,
      error: undefined,
      completedAt: undefined,
      progress: momentText("queued", language),
      updatedAt: now,
    });
    return (await ctx.db.get(job._id))!;
  },
});
