// The web app's job functions, as the front end calls them (a test model).
import { v } from "convex/values";
import type { Doc, Id } from "../../functions/_generated/dataModel";
import { mutation, query, type QueryCtx } from "../../functions/_generated/server";
import schema from "../../functions/schema";

const ACTIVE = ["pending", "claimed", "cloning", "analyzing", "gathering", "running"];

async function activeJobOf(
  ctx: QueryCtx,
  repositoryId: Id<"repositories">,
): Promise<Doc<"jobs"> | null> {
  // The web reads the repository's jobs oldest first and keeps the first active one.
  for await (const job of ctx.db
    .query("jobs")
    .withIndex("by_repository", (q) => q.eq("repositoryId", repositoryId))) {
    if (ACTIVE.includes(job.status)) return job;
  }
  return null;
}

function newJobFields(
  userId: Id<"users">,
  repositoryId: Id<"repositories">,
  prompt: string,
  now: number,
  dedupeKey: string,
  progress: string,
) {
  return {
    userId,
    repositoryId,
    status: "pending" as const,
    prompt,
    callbackToken: crypto.randomUUID(),
    runAt: now,
    attempts: 0,
    maxAttempts: 5,
    dedupeKey,
    createdAt: now,
    updatedAt: now,
    currentStep: 0,
    totalSteps: 6,
    progress,
  };
}

// Generate and Regenerate: the repository's active job is canceled (status, error,
// updatedAt; its lease fields left as they are) and a new job inserted.
export const regenerate = mutation({
  args: {
    repositoryId: v.id("repositories"),
    userId: v.id("users"),
    prompt: v.optional(v.string()),
  },
  handler: async (ctx, args) => {
    const active = await activeJobOf(ctx, args.repositoryId);
    if (active !== null) {
      await ctx.db.patch(active._id, {
        status: "canceled",
        error: "Job cancelled for regeneration",
        updatedAt: Date.now(),
      });
    }
    const now = Date.now();
    const jobId = await ctx.db.insert(
      "jobs",
      newJobFields(
        args.userId,
        args.repositoryId,
        args.prompt || "Regenerate course documentation",
        now,
        `${args.repositoryId}_regen_${now}`,
        "Initializing regeneration...",
      ),
    );
    return { jobId };
  },
});

// The repository card's button: refused while the repository has an active job.
export const create = mutation({
  args: { userId: v.id("users"), repositoryId: v.id("repositories"), prompt: v.string() },
  handler: async (ctx, args) => {
    if ((await ctx.db.get(args.repositoryId)) === null) throw new Error("Repository not found");
    if ((await activeJobOf(ctx, args.repositoryId)) !== null) {
      throw new Error("A job is already running for this repository.");
    }
    const now = Date.now();
    const fields = newJobFields(
      args.userId,
      args.repositoryId,
      args.prompt,
      now,
      `${args.repositoryId}_${now}`,
      "Initializing...",
    );
    const jobId = await ctx.db.insert("jobs", fields);
    return { jobId, callbackToken: fields.callbackToken };
  },
});

// The cancel route writes the status straight through this, with the job's callbackToken.
export const updateStatus = mutation({
  args: {
    jobId: v.id("jobs"),
    status: schema.tables.jobs.validator.fields.status,
    callbackToken: v.string(),
    progress: v.optional(v.string()),
    error: v.optional(v.string()),
  },
  handler: async (ctx, args) => {
    const job = await ctx.db.get(args.jobId);
    if (job === null) throw new Error("Job not found");
    if (job.callbackToken !== args.callbackToken) throw new Error("Invalid callback token");
    const now = Date.now();
    await ctx.db.patch(args.jobId, {
      status: args.status,
      updatedAt: now,
      ...(args.progress ? { progress: args.progress } : {}),
      ...(args.error ? { error: args.error, lastError: args.error } : {}),
      ...(args.status === "completed" ? { completedAt: now } : {}),
    });
    return { success: true };
  },
});

// "Clear stuck jobs": every pending job of every repository with this fullName fails.
export const clearAllStuckJobsForRepo = mutation({
  args: { repositoryFullName: v.string() },
  handler: async (ctx, args) => {
    const repositories = (await ctx.db.query("repositories").collect()).filter(
      (r) => r.fullName === args.repositoryFullName,
    );
    let cleared = 0;
    for (const repo of repositories) {
      const pending = (
        await ctx.db
          .query("jobs")
          .withIndex("by_repository", (q) => q.eq("repositoryId", repo._id))
          .collect()
      ).filter((job) => job.status === "pending");
      for (const job of pending) {
        await ctx.db.patch(job._id, {
          status: "failed",
          error: "Job cleared - was stuck in pending status (manual clear)",
          progress: "Job was manually cleared and reset",
        });
        cleared += 1;
      }
    }
    return { clearedJobsCount: cleared, repositoriesProcessed: repositories.length };
  },
});

// /course/<owner>/<repo>/latest: the repository's last created completed job.
export const getLatestCompletedByRepository = query({
  args: { repositoryId: v.id("repositories") },
  handler: async (ctx, args) => {
    const jobs = await ctx.db
      .query("jobs")
      .withIndex("by_repository", (q) => q.eq("repositoryId", args.repositoryId))
      .order("desc")
      .collect();
    return jobs.find((job) => job.status === "completed") ?? null;
  },
});

export const getJob = query({
  args: { jobId: v.id("jobs") },
  handler: async (ctx, args) => ctx.db.get(args.jobId),
});
