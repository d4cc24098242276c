// A model of the web app's schema (Salwen92/fondation-web-app, fondation/convex/
// schema.ts) with the worker's additions taken in as docs/CONVEX.md tells an
// operator to: the web's tables, fields, types and indexes as they are, plus the
// lines marked "worker". The tests run on this schema, so the worker's functions
// are proven against the web's exact types (userId is v.id("users"), githubRepoId
// a string, result.data a string, the web's objects kept as objects).
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { workerJobFields, workerRepositoryFields, workerTables } from "./worker/schema"; // worker

export default defineSchema({
  users: defineTable({
    githubId: v.string(),
    username: v.string(),
    email: v.optional(v.string()),
    avatarUrl: v.optional(v.string()),
    // The user's GitHub OAuth token as the web app stores it (encrypted).
    githubAccessToken: v.optional(v.string()),
    createdAt: v.number(),
  }).index("by_github_id", ["githubId"]),

  repositories: defineTable({
    userId: v.id("users"),
    githubRepoId: v.string(),
    name: v.string(),
    fullName: v.string(),
    description: v.optional(v.string()),
    defaultBranch: v.string(),
    lastFetched: v.optional(v.number()),
    lastAnalyzedAt: v.optional(v.number()),
    languages: v.optional(
      v.object({
        primary: v.string(),
        all: v.array(v.object({ name: v.string(), percentage: v.number(), bytes: v.number() })),
      }),
    ),
    stats: v.optional(v.object({ stars: v.number(), forks: v.number(), issues: v.number() })),
    ...workerRepositoryFields, // worker
  })
    .index("by_user", ["userId"])
    .index("by_user_fullName", ["userId", "fullName"]) // worker
    .index("by_fullName", ["fullName"]), // worker

  jobs: defineTable({
    userId: v.id("users"),
    repositoryId: v.id("repositories"),
    status: v.union(
      v.literal("pending"),
      v.literal("claimed"),
      v.literal("cloning"),
      v.literal("analyzing"),
      v.literal("gathering"),
      v.literal("running"),
      v.literal("completed"),
      v.literal("failed"),
      v.literal("canceled"),
      v.literal("dead"),
    ),
    prompt: v.string(),
    callbackToken: v.string(),
    runAt: v.optional(v.number()),
    attempts: v.optional(v.number()),
    maxAttempts: v.optional(v.number()),
    lockedBy: v.optional(v.string()),
    leaseUntil: v.optional(v.number()),
    dedupeKey: v.optional(v.string()),
    lastError: v.optional(v.string()),
    createdAt: v.number(),
    updatedAt: v.optional(v.number()),
    completedAt: v.optional(v.number()),
    progress: v.optional(v.string()),
    currentStep: v.optional(v.number()),
    totalSteps: v.optional(v.number()),
    result: v.optional(
      v.union(
        v.object({
          success: v.boolean(),
          message: v.optional(v.string()),
          data: v.optional(v.string()),
        }),
        v.string(),
        v.null(),
      ),
    ),
    error: v.optional(v.string()),
    docsCount: v.optional(v.number()),
    cancelRequested: v.optional(v.boolean()),
    runId: v.optional(v.string()),
    regenerationStats: v.optional(
      v.object({
        inserted: v.number(),
        updated: v.number(),
        skipped: v.number(),
        rejected: v.number(),
        deleted: v.number(),
      }),
    ),
    ...workerJobFields, // worker
  })
    .index("by_user", ["userId"])
    .index("by_repository", ["repositoryId"])
    .index("by_status_runAt", ["status", "runAt"])
    .index("by_leaseUntil", ["leaseUntil"])
    .index("by_dedupeKey", ["dedupeKey"])
    .index("by_lockedBy", ["lockedBy", "status"]) // worker
    .index("by_lockedBy_cancelRequested", ["lockedBy", "cancelRequested"]) // worker
    .index("by_dedupeKey_status", ["dedupeKey", "status"]) // worker
    .index("by_createdAt", ["createdAt"]) // worker
    .index("by_status_createdAt", ["status", "createdAt"]) // worker
    .index("by_repository_status", ["repositoryId", "status"]), // worker

  docs: defineTable({
    jobId: v.id("jobs"),
    repositoryId: v.id("repositories"),
    slug: v.string(),
    title: v.string(),
    chapterIndex: v.number(),
    kind: v.union(v.literal("chapter"), v.literal("tutorial"), v.literal("toc"), v.literal("yaml")),
    content: v.string(),
    createdAt: v.number(),
    updatedAt: v.optional(v.number()),
    sourceKey: v.optional(v.string()),
    runId: v.optional(v.string()),
    normalizedAt: v.optional(v.number()),
  })
    .index("by_job", ["jobId"])
    .index("by_repository", ["repositoryId"])
    .index("by_source_key", ["sourceKey"])
    .index("by_job_slug", ["jobId", "slug"]), // worker

  jobLogs: defineTable({
    jobId: v.id("jobs"),
    ts: v.number(),
    seq: v.number(),
    level: v.union(v.literal("info"), v.literal("error")),
    msg: v.string(),
  })
    .index("by_job", ["jobId"])
    .index("by_job_seq", ["jobId", "seq"]),

  ...workerTables, // worker
});
