// What the worker adds to the web app's schema, shipped so that the web's
// `convex/schema.ts` takes it in with a small edit (docs/CONVEX.md, "The schema
// edit"): spread `workerJobFields` into its jobs table, `workerRepositoryFields`
// into repositories, `workerTables` into defineSchema, and chain the indexes
// listed in WORKER_INDEXES. Every field here is optional and new, so documents the
// web app already holds stay valid and no field of the web's changes type.
import { defineTable } from "convex/server";
import { v } from "convex/values";

export const workerJobFields = {
  // The fencing token of the current lease: every write after a claim carries it.
  leaseToken: v.optional(v.string()),
  // A git ref to analyse instead of the repository's default branch.
  ref: v.optional(v.string()),
  // Redo every step and call: reuse none of the repository's earlier work.
  fresh: v.optional(v.boolean()),
};

export const workerRepositoryFields = {
  // A clone URL that is not github.com/<fullName> (a mirror, a local server).
  cloneUrl: v.optional(v.string()),
};

const stepStatus = v.union(v.literal("started"), v.literal("completed"));

export const workerTables = {
  // One record per step of a job, so that a retried job resumes after its last
  // completed step instead of starting the analysis again.
  jobSteps: defineTable({
    jobId: v.id("jobs"),
    step: v.number(),
    name: v.string(),
    status: stepStatus,
    runs: v.number(),
    artifact: v.optional(v.string()),
    startedAt: v.number(),
    completedAt: v.optional(v.number()),
    worker: v.optional(v.string()),
    // What the step's engine spent (Claude: cost, turns, tokens), as JSON.
    usage: v.optional(v.string()),
    // An artifact too large for one document (1 MiB) is stored in this many
    // jobStepParts documents, and artifact is then empty.
    artifactParts: v.optional(v.number()),
  }).index("by_job_step", ["jobId", "step"]),
  // One piece of a large step artifact; the pieces in part order are the artifact.
  jobStepParts: defineTable({
    jobId: v.id("jobs"),
    step: v.number(),
    part: v.number(),
    data: v.string(),
  }).index("by_job_step_part", ["jobId", "step", "part"]),
  // Work a later job of the same repository may take instead of doing it again:
  // a step's artifact for the same tree, a Claude answer with the inputs it read, a
  // file's parse result (worker/reuse.ts). Keyed by repository first: a job reads
  // only its own repository's records.
  reuseRecords: defineTable({
    repositoryId: v.id("repositories"),
    kind: v.union(v.literal("step"), v.literal("answer"), v.literal("parse")),
    key: v.string(),
    variant: v.string(),
    value: v.string(),
    jobId: v.id("jobs"),
    createdAt: v.number(),
  }).index("by_repository_kind_key_variant", ["repositoryId", "kind", "key", "variant"]),
};

// The indexes the worker's functions read, per web table, as the schema edit
// chains them. A test checks that the schema has each one with these fields.
export const WORKER_INDEXES = {
  jobs: [
    // The jobs one bridge holds, one range per active status.
    ["by_lockedBy", ["lockedBy", "status"]],
    // The cancel requests of the jobs one bridge holds (queue.ts `watch`).
    ["by_lockedBy_cancelRequested", ["lockedBy", "cancelRequested"]],
    // The live job of a dedupe key, one range per non-final status.
    ["by_dedupeKey_status", ["dedupeKey", "status"]],
    // Newest-first listings, and the oldest waiting job.
    ["by_createdAt", ["createdAt"]],
    ["by_status_createdAt", ["status", "createdAt"]],
    // A repository's completed jobs: its latest course and the older ones whose
    // docs a completion removes.
    ["by_repository_status", ["repositoryId", "status"]],
  ],
  repositories: [
    ["by_user_fullName", ["userId", "fullName"]],
    // Every row of one repository name, oldest first: the one the web's course page
    // opens (repositories.getByFullName, first row), which a CLI submission reuses.
    ["by_fullName", ["fullName"]],
  ],
  docs: [["by_job_slug", ["jobId", "slug"]]],
} as const;
